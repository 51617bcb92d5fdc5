package task

import (
	"context"
	"fmt"
	"reflect"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// registerV2 registers impl, a v3 task service, under the v2 service's
// name too. The two shim.proto files differ only in their package: same
// methods, same messages, same field numbers (TestV2V3WireIdentical
// checks it), so a v2 request decodes into the v3 message and a v3
// response encodes as the v2 one. The method table is built from the v3
// service's descriptor, so it follows the API module as it is, without a
// hand-written copy of the generated registration.
func registerV2(srv *ttrpc.Server, impl taskv3.TTRPCTaskService) error {
	v2 := taskv2.File_github_com_containerd_containerd_api_runtime_task_v2_shim_proto.Services().Get(0)
	v3 := taskv3.File_github_com_containerd_containerd_api_runtime_task_v3_shim_proto.Services().Get(0)
	desc, err := aliasDesc(v3, impl)
	if err != nil {
		return err
	}
	srv.RegisterService(string(v2.FullName()), desc)
	return nil
}

var (
	ctxType   = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType = reflect.TypeOf((*error)(nil)).Elem()
)

// aliasDesc builds a ttrpc service description that calls impl's method
// of each of sd's methods, with sd's request type. It fails if impl lacks
// a method or has it with another signature.
func aliasDesc(sd protoreflect.ServiceDescriptor, impl any) (*ttrpc.ServiceDesc, error) {
	v := reflect.ValueOf(impl)
	methods := make(map[string]ttrpc.Method, sd.Methods().Len())
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		if md.IsStreamingClient() || md.IsStreamingServer() {
			return nil, fmt.Errorf("%s: streaming methods are not supported", md.FullName())
		}
		name := string(md.Name())
		in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", md.FullName(), err)
		}
		out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", md.FullName(), err)
		}
		m := v.MethodByName(name)
		if !m.IsValid() {
			return nil, fmt.Errorf("%T has no method %s", impl, name)
		}
		inT := reflect.TypeOf(in.New().Interface())
		outT := reflect.TypeOf(out.New().Interface())
		mt := m.Type()
		if mt.NumIn() != 2 || mt.In(0) != ctxType || mt.In(1) != inT ||
			mt.NumOut() != 2 || mt.Out(0) != outT || mt.Out(1) != errorType {
			return nil, fmt.Errorf("%T.%s is %v, want func(context.Context, %v) (%v, error)", impl, name, mt, inT, outT)
		}
		methods[name] = func(ctx context.Context, unmarshal func(any) error) (any, error) {
			req := in.New().Interface()
			if err := unmarshal(req); err != nil {
				return nil, err
			}
			res := m.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(req)})
			if err, _ := res[1].Interface().(error); err != nil {
				return nil, err
			}
			return res[0].Interface(), nil
		}
	}
	return &ttrpc.ServiceDesc{Methods: methods}, nil
}
