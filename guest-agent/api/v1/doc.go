// Package agent is the generated protobuf and ttrpc code of the guest agent's API
// (agent.proto): the one contract between the runxen shim in dom0 and the agent that is PID 1 in
// each guest. Regenerate with `make generate`; never edit the .pb.go files by hand.
package agent
