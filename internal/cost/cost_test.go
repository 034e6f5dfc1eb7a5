package cost

import (
	"strings"
	"testing"
)

func TestPricesOf(t *testing.T) {
	p := Prices{In: 2.5, Out: 10}
	// 1.2 M prompt tokens at $2.50 and 80 k completion tokens at $10 per million.
	if got, want := p.Of(1_200_000, 80_000), 1.2*2.5+0.08*10; got != want {
		t.Errorf("Of = %v, want %v", got, want)
	}
	if (Prices{}).Known() || !p.Known() || !(Prices{Out: 1}).Known() {
		t.Error("Known")
	}
}

func TestDollars(t *testing.T) {
	for x, want := range map[float64]string{0: "$0.00", 4.2: "$4.20", 1234.567: "$1234.57", 0.0042: "$0.0042", 0.01: "$0.01", 0.000123: "$0.00012", 0.05: "$0.05", 0.001: "$0.001", 0.00999: "$0.01"} {
		if got := Dollars(x); got != want {
			t.Errorf("Dollars(%v) = %q, want %q", x, got, want)
		}
	}
}

// A record's own prices count, unless the pricing overrides them; a record
// without prices takes the default; tokens with no price at all have none.
func TestPricingOf(t *testing.T) {
	recorded, def := Prices{In: 1, Out: 2}, Prices{In: 10, Out: 20}
	cases := []struct {
		p        Pricing
		rec      Prices
		want     float64
		priced   bool
		describe string
	}{
		{Pricing{Default: def}, recorded, recorded.Of(1e6, 1e6), true, "recorded prices win over the default"},
		{Pricing{Default: def, Override: true}, recorded, def.Of(1e6, 1e6), true, "an override prices anew"},
		{Pricing{Default: def}, Prices{}, def.Of(1e6, 1e6), true, "a record without prices takes the default"},
		{Pricing{}, recorded, recorded.Of(1e6, 1e6), true, "recorded prices need no default"},
		{Pricing{}, Prices{}, 0, false, "no price at all"},
	}
	for _, c := range cases {
		got, ok := c.p.Of(c.rec, 1e6, 1e6)
		if got != c.want || ok != c.priced {
			t.Errorf("%s: %v %v, want %v %v", c.describe, got, ok, c.want, c.priced)
		}
	}
	if got, ok := (Pricing{}).Of(Prices{}, 0, 0); got != 0 || !ok {
		t.Errorf("no tokens cost nothing, priced or not: %v %v", got, ok)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{EnvIn: "2.5", EnvOut: "$10"}
	p, err := FromEnv(func(k string) string { return env[k] })
	if err != nil || p != (Prices{In: 2.5, Out: 10}) {
		t.Errorf("%+v %v", p, err)
	}
	env[EnvOut] = "ten"
	if _, err := FromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "$AUTORESEARCH_PRICE_OUT=\"ten\" is not a price") {
		t.Errorf("a bad price: %v", err)
	}
}

func TestSpendString(t *testing.T) {
	for s, want := range map[Spend]string{
		{Dollars: 4.2, Experiments: 12, Keeps: 3}: "$4.20: $0.35 per experiment, $1.40 per kept change",
		{Dollars: 0.6, Experiments: 3}:            "$0.60: $0.20 per experiment, no change kept yet",
		{Dollars: 0.12}:                           "$0.12",
	} {
		if got := s.String(); got != want {
			t.Errorf("%+v: %q, want %q", s, got, want)
		}
	}
}
