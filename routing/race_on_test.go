//go:build race

package routing

// raceEnabled: the race detector's sync.Pool drops items at random, so
// pooled paths allocate under -race.
const raceEnabled = true
