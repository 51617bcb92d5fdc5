package kmod

import (
	"fmt"
	"strings"
)

// loadOrder returns roots and everything they depend on, each once, with
// every module after all of its dependencies. Roots keep their relative
// order as far as dependencies allow, so callers can order modules that
// only have soft dependencies, which modules.dep does not record.
func loadOrder(roots []string, deps func(name string) ([]string, error)) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var (
		order []string
		stack []string
		visit func(name string) error
	)
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(stack, " -> "), name)
		}
		state[name] = visiting
		stack = append(stack, name)
		ds, err := deps(name)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return order, nil
}
