// Package pricing holds the price list: the one place that says what a
// session costs and what the solver earns.
//
// A session costs its tier's base price plus the per-minute price for every
// started minute (a 61-second session pays two minutes). The solver earns
// revenue_share_percent of the total, rounded down to the cent; the platform
// keeps the rest. Prices are in US cents.
package pricing

import "github.com/savvysolve/api/models"

// Currency is the ISO 4217 code of every price.
const Currency = "USD"

type tier struct{ base, perMinute int }

var tiers = map[models.TicketTier]tier{
	models.TierStandard: {base: 1500, perMinute: 100},
	models.TierPriority: {base: 2500, perMinute: 150},
	models.TierPremium:  {base: 4000, perMinute: 250},
}

// For returns the price list of a tier, without a total.
func For(t models.TicketTier) models.Pricing {
	p := tiers[t]
	return models.Pricing{Tier: t, BaseCents: p.base, PerMinuteCents: p.perMinute, Currency: Currency}
}

// Total is the price of a session of seconds under p.
func Total(p models.Pricing, seconds int) int {
	minutes := (seconds + 59) / 60
	return p.BaseCents + minutes*p.PerMinuteCents
}

// Earnings is the solver's share of total.
func Earnings(total, sharePercent int) int { return total * sharePercent / 100 }
