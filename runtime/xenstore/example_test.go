package xenstore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

func ExampleClient_Transaction() {
	s := xenstoretest.New() // in production: xenstore.Dial(ctx)
	defer s.Close()
	c := xenstore.NewClient(s.Conn())
	defer c.Close()
	ctx := context.Background()

	// Create a frontend/backend pair atomically; fn is re-run if another
	// writer interferes.
	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		if err := tx.Write(ctx, "/local/domain/0/backend/vif/7/0/state", []byte("1")); err != nil {
			return err
		}
		return tx.Write(ctx, "/local/domain/7/device/vif/0/state", []byte("1"))
	})
	fmt.Println("commit:", err)

	_, err = c.Read(ctx, "/local/domain/7/device/vif/1/state")
	fmt.Println("missing:", errors.Is(err, fs.ErrNotExist), err)
	// Output:
	// commit: <nil>
	// missing: true xenstore read /local/domain/7/device/vif/1/state: ENOENT
}

func ExampleClient_Watch() {
	s := xenstoretest.New()
	defer s.Close()
	c := xenstore.NewClient(s.Conn())
	defer c.Close()
	ctx := context.Background()

	w, err := c.Watch(ctx, xenstore.ReleaseDomain, "")
	if err != nil {
		panic(err)
	}
	defer w.Close()
	fmt.Println((<-w.Events()).Path) // the initial event

	s.ReleaseDomain(7) // a domain died: check which ones are gone
	fmt.Println((<-w.Events()).Path)
	// Output:
	// @releaseDomain
	// @releaseDomain
}
