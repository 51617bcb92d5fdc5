//go:build !race

package vchan_test

const raceEnabled = false
