package refplatform

import (
	"testing"
	"time"
)

func TestReplayCache(t *testing.T) {
	c := newReplayCache(3, time.Minute)
	t0 := time.Unix(1_800_000_000, 0)
	for i, k := range []string{"a", "b", "c"} {
		if fresh, full := c.add(k, t0.Add(time.Duration(i)*time.Second)); !fresh || full {
			t.Fatalf("%s: fresh %v full %v", k, fresh, full)
		}
	}
	if fresh, _ := c.add("b", t0.Add(10*time.Second)); fresh {
		t.Fatal("replay of b accepted")
	}
	// Full of unexpired nonces: refuse rather than forget one.
	if fresh, full := c.add("d", t0.Add(10*time.Second)); !full || !fresh {
		t.Fatalf("full cache: fresh %v full %v", fresh, full)
	}
	if fresh, _ := c.add("a", t0.Add(30*time.Second)); fresh {
		t.Fatal("replay of a accepted while remembered")
	}
	// a expires at t0+60s, b at +61s: then there is room again and a is
	// forgotten (its signature is stale by then anyway).
	if fresh, full := c.add("d", t0.Add(61*time.Second)); !fresh || full {
		t.Fatalf("after expiry: fresh %v full %v", fresh, full)
	}
	if c.Len() != 2 { // c and d
		t.Fatalf("len %d, want 2", c.Len())
	}
	// Many entries: the queue is compacted and stays bounded.
	c = newReplayCache(10, time.Second)
	for i := range 100_000 {
		c.add(string(rune('a'+i%26))+string(rune(i)), t0.Add(time.Duration(i)*time.Second))
	}
	if c.Len() > 2 || len(c.queue)-c.head > 2 || cap(c.queue) > 10_000 {
		t.Fatalf("len %d queue %d/%d", c.Len(), len(c.queue)-c.head, cap(c.queue))
	}
}
