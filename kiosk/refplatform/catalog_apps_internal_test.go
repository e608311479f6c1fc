package refplatform

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"tongban/drivers/idcard/codec"
	"tongban/drivers/idcard/sim"
	"tongban/kiosk/uplink"
)

func matterIDs(c uplink.Catalog) []string {
	var out []string
	for _, m := range c.Matters {
		out = append(out, m.MatterID)
	}
	return out
}

// TestScheduleChangesExactlyAtEffectiveDates walks every change point of
// every township: one nanosecond before it the old list is in force, at it
// the new one, and the difference is exactly the entries that start or end
// there.
func TestScheduleChangesExactlyAtEffectiveDates(t *testing.T) {
	d, err := newCatalogData()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.order) < 3 {
		t.Fatalf("%d townships, want at least 3", len(d.order))
	}
	for _, id := range d.order {
		tw := d.townships[id]
		var points []time.Time
		for _, e := range tw.List {
			for _, p := range []time.Time{e.From, e.Until} {
				if !p.IsZero() && !slices.ContainsFunc(points, p.Equal) {
					points = append(points, p)
				}
			}
		}
		slices.SortFunc(points, time.Time.Compare)
		if len(points) < 3 {
			t.Errorf("%s: %d change points, want matters to come and go", id, len(points))
		}
		sawOut := false
		for _, p := range points {
			before, err := d.catalog(id, p.Add(-time.Nanosecond))
			if err != nil {
				t.Fatal(err)
			}
			at, err := d.catalog(id, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []uplink.Catalog{before, at} {
				if err := c.Validate(); err != nil {
					t.Fatalf("%s at %s: %v", id, c.At, err)
				}
			}
			var added, removed []string
			for _, e := range tw.List {
				if e.From.Equal(p) {
					added = append(added, e.MatterID)
				}
				if e.Until.Equal(p) {
					removed = append(removed, e.MatterID)
					sawOut = sawOut || p.After(listStart)
				}
			}
			b, a := matterIDs(before), matterIDs(at)
			for _, m := range added {
				if slices.Contains(b, m) || !slices.Contains(a, m) {
					t.Errorf("%s: %s should appear exactly at %s", id, m, p)
				}
			}
			for _, m := range removed {
				if !slices.Contains(b, m) || slices.Contains(a, m) {
					t.Errorf("%s: %s should disappear exactly at %s", id, m, p)
				}
			}
			if len(a)-len(b) != len(added)-len(removed) {
				t.Errorf("%s at %s: %d -> %d matters, but %d added and %d removed", id, p, len(b), len(a), len(added), len(removed))
			}
			if before.ValidUntil == nil || !before.ValidUntil.Equal(p) || !at.ValidFrom.Equal(p) {
				t.Errorf("%s: window does not turn at %s: until %v, from %v", id, p, before.ValidUntil, at.ValidFrom)
			}
			if before.Version == at.Version {
				t.Errorf("%s: version unchanged across %s", id, p)
			}
		}
		if !sawOut {
			t.Errorf("%s: no matter is withdrawn after the lists start (有进有出)", id)
		}
	}
}

func TestSampleDirectoryCovers49Matters(t *testing.T) {
	d, err := newCatalogData()
	if err != nil {
		t.Fatal(err)
	}
	nos := map[int]string{}
	extras := 0
	for _, m := range sampleDirectory() {
		if m.DirectoryNo == 0 {
			extras++
			continue
		}
		if prev, dup := nos[m.DirectoryNo]; dup {
			t.Errorf("directory number %d used by %s and %s", m.DirectoryNo, prev, m.MatterID)
		}
		nos[m.DirectoryNo] = m.MatterID
	}
	if len(nos) != uplink.MaxDirectoryNo || extras == 0 {
		t.Fatalf("%d directory matters and %d county extras, want 49 and some", len(nos), extras)
	}
	// Every directory matter is on some township's list at some time, and
	// every channel, mode and the four bills occur.
	listed := map[string]bool{}
	channels := map[uplink.Channel]int{}
	modes := map[uplink.DelegationMode]int{}
	for _, tw := range d.townships {
		for _, e := range tw.List {
			listed[e.MatterID] = true
		}
	}
	for _, m := range d.matters {
		channels[m.Channel]++
		modes[m.Mode]++
		if m.DirectoryNo > 0 && !listed[m.MatterID] {
			t.Errorf("directory matter %d %s is on no township's list", m.DirectoryNo, m.MatterID)
		}
	}
	if channels[uplink.ChannelPay] != 4 || channels[uplink.ChannelApply] < 20 || channels[uplink.ChannelCounter] < 10 {
		t.Errorf("channels %v", channels)
	}
	if modes[uplink.DelegationHandling] == 0 || modes[uplink.DelegationAcceptance] == 0 {
		t.Errorf("modes %v", modes)
	}
	for _, u := range uplink.Utilities() {
		if !slices.ContainsFunc(sampleDirectory(), func(m uplink.Matter) bool { return m.Utility == u }) {
			t.Errorf("no bill matter for %s", u)
		}
	}
}

// TestSamplePersonsMatchSimulatedCards: the reference platform's sample
// residents are the simulated ID card reader's sample cards, so a demo
// card read finds them.
func TestSamplePersonsMatchSimulatedCards(t *testing.T) {
	cards := sim.Samples()
	for _, p := range samplePersons() {
		if !codec.ValidIDNumber(p.idNumber) || !uplink.ValidIDNumber(p.idNumber) {
			t.Errorf("%s: ID number fails the check digit", uplink.MaskName(p.name))
		}
		if !slices.ContainsFunc(slices.Collect(maps.Values(cards)), func(c codec.Card) bool {
			return c.Text.Name == p.name && c.Text.IDNumber == p.idNumber
		}) {
			t.Errorf("%s: no simulated sample card with this name and number", uplink.MaskName(p.name))
		}
		for _, l := range p.licences {
			if err := l.Validate(); err != nil {
				t.Error(err)
			}
		}
		for _, a := range p.applications {
			if err := a.Validate(); err != nil {
				t.Error(err)
			}
		}
	}
	// The 2017 foreign card is the one the platform does not know.
	f := cards["foreign2017"].Text
	if _, ok := newPersonDB().find(f.IDNumber, f.Name); ok || !uplink.ValidIDNumber(f.IDNumber) {
		t.Errorf("foreign2017 card: known %v, valid %v", ok, uplink.ValidIDNumber(f.IDNumber))
	}
	// Every licence type a material asks for is held by some sample person.
	held := map[string]bool{}
	for _, p := range samplePersons() {
		for _, l := range p.licences {
			held[l.Type] = true
		}
	}
	for _, typ := range []string{licHousehold, licBusiness, licProperty, licDisabled, licMarriage} {
		if !held[typ] {
			t.Errorf("no sample person holds a %s", typ)
		}
	}
}

// TestReadmeListsSampleData keeps README.md's tables in step with the data.
func TestReadmeListsSampleData(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, p := range samplePersons() {
		if !strings.Contains(doc, p.idNumber) || !strings.Contains(doc, p.name) {
			t.Errorf("README lacks sample person %s", uplink.MaskName(p.name))
		}
		for _, l := range p.licences {
			if !strings.Contains(doc, l.LicenceID) {
				t.Errorf("README lacks licence %s", l.LicenceID)
			}
		}
	}
	for _, tw := range sampleTownships() {
		if !strings.Contains(doc, "`"+tw.ID+"`") || !strings.Contains(doc, tw.Name.Zh) || !strings.Contains(doc, "| "+tw.Code+" |") {
			t.Errorf("README lacks township %s", tw.ID)
		}
		for _, e := range tw.List {
			for _, p := range []time.Time{e.From, e.Until} {
				if !p.IsZero() && p.After(listStart) && (!strings.Contains(doc, p.Format(time.DateOnly)) || !strings.Contains(doc, "`"+e.MatterID+"`")) {
					t.Errorf("README lacks the change of %s/%s on %s", tw.ID, e.MatterID, p.Format(time.DateOnly))
				}
			}
		}
	}
}

func TestSampleFormsUseEveryPrefillSource(t *testing.T) {
	used := map[string]bool{}
	for _, m := range sampleDirectory() {
		for _, f := range m.Fields {
			used[f.Prefill] = true
		}
	}
	for _, src := range uplink.PrefillSources() {
		if !used[src] {
			t.Errorf("no sample form uses prefill source %s", src)
		}
	}
}
