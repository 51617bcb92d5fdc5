package task

import (
	"context"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestV2V3WireIdentical checks what serving v2 with the v3 messages rests
// on: the two shim.proto files have the same methods and messages, field
// for field.
func TestV2V3WireIdentical(t *testing.T) {
	f2 := taskv2.File_github_com_containerd_containerd_api_runtime_task_v2_shim_proto
	f3 := taskv3.File_github_com_containerd_containerd_api_runtime_task_v3_shim_proto
	s2, s3 := f2.Services().Get(0), f3.Services().Get(0)
	if s2.Methods().Len() != s3.Methods().Len() {
		t.Fatalf("v2 has %d methods, v3 %d", s2.Methods().Len(), s3.Methods().Len())
	}
	for i := 0; i < s3.Methods().Len(); i++ {
		m3 := s3.Methods().Get(i)
		m2 := s2.Methods().ByName(m3.Name())
		if m2 == nil {
			t.Errorf("v2 lacks %s", m3.Name())
			continue
		}
		sameMessage(t, m2.Input(), m3.Input(), map[protoreflect.FullName]bool{})
		sameMessage(t, m2.Output(), m3.Output(), map[protoreflect.FullName]bool{})
	}
}

func sameMessage(t *testing.T, a, b protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) {
	t.Helper()
	if seen[b.FullName()] {
		return
	}
	seen[b.FullName()] = true
	if a.Name() != b.Name() || a.Fields().Len() != b.Fields().Len() {
		t.Errorf("%s and %s differ", a.FullName(), b.FullName())
		return
	}
	for i := 0; i < b.Fields().Len(); i++ {
		fb := b.Fields().Get(i)
		fa := a.Fields().ByNumber(fb.Number())
		if fa == nil || fa.Name() != fb.Name() || fa.Kind() != fb.Kind() || fa.Cardinality() != fb.Cardinality() {
			t.Errorf("%s field %d differs between v2 and v3", b.FullName(), fb.Number())
			continue
		}
		if fb.Message() != nil {
			sameMessage(t, fa.Message(), fb.Message(), seen)
		}
	}
}

// TestV2AndV3Answer: both service names answer, the same, over ttrpc.
func TestV2AndV3Answer(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("c1", []string{"wait"}, nil)
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.s.RegisterTTRPC(srv); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "shim.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), l)
	defer srv.Close()
	dial := func() *ttrpc.Client {
		conn, err := net.Dial("unix", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c := ttrpc.NewClient(conn)
		t.Cleanup(func() { c.Close() })
		return c
	}
	v2 := taskv2.NewTaskClient(dial())
	v3 := taskv3.NewTTRPCTaskClient(dial())
	ctx := context.Background()

	s2, err := v2.State(ctx, &taskv2.StateRequest{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	s3, err := v3.State(ctx, &taskv3.StateRequest{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Pid != s3.Pid || s2.Status != s3.Status || s2.Bundle != s3.Bundle || s2.Pid != 4242 {
		t.Errorf("v2 %v, v3 %v", s2, s3)
	}
	_, e2 := v2.State(ctx, &taskv2.StateRequest{ID: "nope"})
	_, e3 := v3.State(ctx, &taskv3.StateRequest{ID: "nope"})
	if status.Code(e2) != codes.NotFound || status.Code(e3) != codes.NotFound {
		t.Errorf("unknown task: v2 %v, v3 %v", e2, e3)
	}
	// A whole life through v2, as containerd 1.7 drives it.
	if _, err := v2.Start(ctx, &taskv2.StartRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Kill(ctx, &taskv2.KillRequest{ID: "c1", Signal: uint32(syscall.SIGKILL)}); err != nil {
		t.Fatal(err)
	}
	w, err := v2.Wait(ctx, &taskv2.WaitRequest{ID: "c1"})
	if err != nil || w.ExitStatus != 137 {
		t.Fatalf("wait: %v, %v", w, err)
	}
	d, err := v2.Delete(ctx, &taskv2.DeleteRequest{ID: "c1"})
	if err != nil || d.ExitStatus != 137 {
		t.Fatalf("delete: %v, %v", d, err)
	}
	if _, err := v3.Connect(ctx, &taskv3.ConnectRequest{ID: "c1"}); status.Code(err) != codes.NotFound {
		t.Errorf("connect after delete: %v", err)
	}
}

func TestAliasRefusesAMismatch(t *testing.T) {
	sd := taskv3.File_github_com_containerd_containerd_api_runtime_task_v3_shim_proto.Services().Get(0)
	if _, err := aliasDesc(sd, struct{}{}); err == nil {
		t.Error("a type without the methods was accepted")
	}
}
