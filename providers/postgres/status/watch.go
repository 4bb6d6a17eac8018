package status

import (
	"context"
	"time"
)

// Watch calls draw at once and then every interval after the previous
// draw finished, until ctx is done (Watch returns nil: interrupting a
// watch is how it ends) or draw fails (Watch returns its error).
func Watch(ctx context.Context, interval time.Duration, draw func(context.Context) error) error {
	for {
		if err := draw(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
