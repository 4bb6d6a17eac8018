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
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	draws := 0
	if err := Watch(ctx, 50*time.Millisecond, func(context.Context) error { draws++; return nil }); err != nil {
		t.Fatal(err)
	}
	if draws < 2 || draws > 3 {
		t.Fatalf("drew %d times in 120ms at a 50ms interval, want 2 or 3", draws)
	}
}
