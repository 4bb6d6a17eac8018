package status

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWatchRedrawsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	draws := 0
	err := Watch(ctx, 5*time.Millisecond, func(context.Context) error {
		draws++
		if draws == 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a cancelled watch returns nil, got %v", err)
	}
	if draws != 3 {
		t.Fatalf("drew %d times, want 3 (no draw after cancel)", draws)
	}
}

func TestWatchStopsOnADrawError(t *testing.T) {
	boom := errors.New("boom")
	draws := 0
	err := Watch(context.Background(), time.Millisecond, func(context.Context) error {
		draws++
		if draws == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || draws != 2 {
		t.Fatalf("err %v after %d draws, want boom after 2", err, draws)
	}
}

func TestWatchWaitsTheInterval(t *testing.T) {
	// Only a lower bound is asserted: a loaded machine may make the gaps
	// longer, never shorter.
	const interval = 40 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var draws []time.Time
	if err := Watch(ctx, interval, func(context.Context) error {
		draws = append(draws, time.Now())
		if len(draws) == 3 {
			cancel()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(draws) != 3 {
		t.Fatalf("drew %d times, want 3 before the cancel", len(draws))
	}
	for i := 1; i < len(draws); i++ {
		if gap := draws[i].Sub(draws[i-1]); gap < interval*9/10 {
			t.Fatalf("draw %d came %s after the previous one, want at least %s", i+1, gap, interval)
		}
	}
}
