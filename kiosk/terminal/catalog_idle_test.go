package terminal

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestCatalogKeeperSleepsUntilSomethingIsDue: once the catalog is held
// and the next list fetched ahead, the keeper does not look at the clock
// until the effective date (here 4 s away) or the next refresh; then the
// new list takes hold on time.
func TestCatalogKeeperSleepsUntilSomethingIsDue(t *testing.T) {
	dir := t.TempDir()
	cst := time.FixedZone("CST", 8*3600)
	// A wall clock running from 4 s before the 1 December change.
	base := time.Date(2026, 11, 30, 23, 59, 56, 0, cst)
	began := time.Now()
	wall := func() time.Time { return base.Add(time.Since(began)) }
	var reads atomic.Int64
	counted := func() time.Time { reads.Add(1); return wall() }
	plat, url := newAppsPlatform(t, dir, wall)
	a := startApps(t, dir, url, plat, nil, nil, counted)
	a.until("catalog", func(s Snapshot) bool { return s.Gov != nil && s.Gov.Township != nil })
	before := a.term.Catalog()
	deadline := time.Now().Add(3 * time.Second)
	for a.term.gov.next.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("next catalog not fetched ahead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the keeper is back asleep
	n := reads.Load()
	idle := base.Add(4*time.Second).Sub(wall()) - 200*time.Millisecond // up to just before the change
	if idle < time.Second {
		t.Fatalf("start-up took too long to see the keeper idle (%v left)", idle)
	}
	time.Sleep(idle)
	if d := reads.Load() - n; d != 0 {
		t.Fatalf("the core read the clock %d times in %v with nothing due", d, idle.Round(time.Millisecond))
	}
	a.until("the 1 December list", func(s Snapshot) bool { return s.Gov.Township.Version != before.Version })
	if at := wall(); at.Before(base.Add(4*time.Second)) || at.After(base.Add(5*time.Second)) {
		t.Fatalf("the new list took hold at %v, want within a second of %v", at, base.Add(4*time.Second))
	}
}
