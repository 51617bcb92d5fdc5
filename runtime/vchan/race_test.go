//go:build race

package vchan_test

const raceEnabled = true
