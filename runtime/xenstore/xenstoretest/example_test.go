package xenstoretest_test

import (
	"context"
	"fmt"

	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

func Example() {
	s := xenstoretest.New()
	defer s.Close()

	// The toolstack side, as dom0.
	dom0 := xenstore.NewClient(s.Conn())
	defer dom0.Close()
	ctx := context.Background()
	dom0.Mkdir(ctx, "/local/domain/5")
	dom0.SetPermissions(ctx, "/local/domain/5", []xenstore.Permission{{Domain: 5, Access: xenstore.AccessNone}})

	// The guest side: relative paths, permissions enforced.
	guest := xenstore.NewClient(s.ConnAs(5))
	defer guest.Close()
	fmt.Println(guest.Write(ctx, "data/ready", []byte("1")))
	_, err := guest.Read(ctx, "/local/domain/0")
	fmt.Println(err)

	// The test inspects the tree directly.
	v, _ := s.Read("/local/domain/5/data/ready")
	fmt.Printf("%s %v\n", v, s.Permissions("/local/domain/5/data/ready"))
	// Output:
	// <nil>
	// xenstore read /local/domain/0: EACCES
	// 1 [n5]
}
