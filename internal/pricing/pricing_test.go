package pricing_test

import (
	"fmt"
	"testing"

	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/models"
)

// The price list as the README's Pricing section states it.
func TestFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tier            models.TicketTier
		base, perMinute int
	}{
		{models.TierStandard, 1500, 100},
		{models.TierPriority, 2500, 150},
		{models.TierPremium, 4000, 250},
	} {
		got := pricing.For(c.tier)
		if got.Tier != c.tier || got.BaseCents != c.base || got.PerMinuteCents != c.perMinute ||
			got.Currency != "USD" || got.TotalCents != nil {
			t.Errorf("For(%s) = %+v, want base %d, per minute %d, USD, no total", c.tier, got, c.base, c.perMinute)
		}
	}
	// An unknown tier has no prices: desk refuses it by its zero base.
	if got := pricing.For("gold"); got.BaseCents != 0 || got.PerMinuteCents != 0 {
		t.Errorf("For(gold) = %+v, want zero prices", got)
	}
}

// Total: the base plus every started minute.
func TestTotal(t *testing.T) {
	t.Parallel()
	const day, year = 24 * 3600, 365 * 24 * 3600
	for _, c := range []struct {
		seconds, minutes int // minutes charged
	}{
		{0, 0},
		{1, 1},
		{59, 1},
		{60, 1},
		{61, 2},
		{119, 2},
		{120, 2},
		{121, 3},
		{725, 13}, // 12:05
		{3599, 60},
		{3600, 60},
		{3601, 61},
		{day, 24 * 60},
		{day + 1, 24*60 + 1},
		{year, 365 * 24 * 60},
		{year + 59, 365*24*60 + 1},
	} {
		for _, tier := range []models.TicketTier{models.TierStandard, models.TierPriority, models.TierPremium} {
			p := pricing.For(tier)
			want := p.BaseCents + c.minutes*p.PerMinuteCents
			if got := pricing.Total(p, c.seconds); got != want {
				t.Errorf("Total(%s, %ds) = %d, want %d (%d minutes)", tier, c.seconds, got, want, c.minutes)
			}
		}
	}
	// Worked examples in cents.
	for _, c := range []struct {
		tier    models.TicketTier
		seconds int
		want    int
	}{
		{models.TierStandard, 0, 1500},
		{models.TierStandard, 61, 1700},
		{models.TierPriority, 725, 4450},
		{models.TierPremium, 3600, 19000},
		{models.TierPremium, 3601, 19250},
	} {
		if got := pricing.Total(pricing.For(c.tier), c.seconds); got != c.want {
			t.Errorf("Total(%s, %ds) = %d, want %d", c.tier, c.seconds, got, c.want)
		}
	}
}

// A session keeps the prices it started with: Total reads them from p, not
// from today's list, and ignores any total already in p.
func TestTotalUsesGivenPrices(t *testing.T) {
	t.Parallel()
	old := models.Pricing{Tier: models.TierStandard, BaseCents: 999, PerMinuteCents: 7, TotalCents: ptr(1), Currency: "USD"}
	for seconds, want := range map[int]int{0: 999, 60: 1006, 61: 1013, 600: 1069} {
		if got := pricing.Total(old, seconds); got != want {
			t.Errorf("Total(old prices, %ds) = %d, want %d", seconds, got, want)
		}
	}
}

// Total never charges less for a longer session, and each further started
// minute adds exactly the per-minute price.
func TestTotalMonotonic(t *testing.T) {
	t.Parallel()
	p := pricing.For(models.TierPriority)
	prev := pricing.Total(p, 0)
	for s := 1; s <= 4*3600; s++ {
		got := pricing.Total(p, s)
		step := 0
		if s%60 == 1 {
			step = p.PerMinuteCents // the first second of a new minute
		}
		if got != prev+step {
			t.Fatalf("Total(%ds) = %d after Total(%ds) = %d, want a step of %d", s, got, s-1, prev, step)
		}
		prev = got
	}
}

// Earnings: share percent of the total, rounded down to the cent.
func TestEarnings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total, share, want int
	}{
		{4450, 70, 3115},  // exact
		{1501, 70, 1050},  // 1050.7
		{1699, 70, 1189},  // 1189.3
		{1999, 33, 659},   // 659.67
		{1000, 33, 330},   // exact
		{1, 33, 0},        // 0.33
		{3, 33, 0},        // 0.99
		{4, 33, 1},        // 1.32
		{1701, 0, 0},      // no share
		{1701, 100, 1701}, // all of it
		{0, 70, 0},
		{0, 100, 0},
		{101, 50, 50},            // 50.5
		{99, 99, 98},             // 98.01
		{19250, 85, 16362},       // 16362.5
		{52561500, 70, 36793050}, // a year of STANDARD
	} {
		got := pricing.Earnings(c.total, c.share)
		if got != c.want {
			t.Errorf("Earnings(%d, %d%%) = %d, want %d", c.total, c.share, got, c.want)
		}
	}
}

// For every total up to $100 and every share, the solver's part is the
// largest whole cent not above share% of the total, and the platform's part
// (total minus earnings) is never negative.
func TestEarningsRoundsDown(t *testing.T) {
	t.Parallel()
	for share := 0; share <= 100; share++ {
		for total := 0; total <= 10000; total++ {
			e := pricing.Earnings(total, share)
			exact := total * share // in hundredths of a cent
			if e*100 > exact || (e+1)*100 <= exact || e < 0 || total-e < 0 {
				t.Fatalf("Earnings(%d, %d%%) = %d, want floor(%s)", total, share, e, fmt.Sprintf("%d.%02d", exact/100, exact%100))
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
