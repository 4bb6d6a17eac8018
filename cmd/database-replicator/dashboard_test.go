package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser of the dashboard test; without one the
// test skips, unless REPLICATOR_REQUIRE_BROWSER=1 (set by .ci/run).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REPLICATOR_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium on PATH and REPLICATOR_REQUIRE_BROWSER=1: apt-get install chromium")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// checkDashboard opens the agent's dashboard in headless Chromium with a
// read key and checks that it shows a running replication with a lag
// sample and its chart, and a finished job whose log opens; no console
// error may occur. Screenshots go to the test's artifact directory.
func checkDashboard(t *testing.T, baseURL, readKey, finishedJob string) {
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900),
		// The agent may serve HTTPS with the test's self-signed certificate.
		chromedp.Flag("ignore-certificate-errors", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	var mu sync.Mutex
	var consoleErrors []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				consoleErrors = append(consoleErrors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				consoleErrors = append(consoleErrors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := t.ArtifactDir()
	shot := func(name string) {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	// waitText polls a JavaScript expression until it returns a non-empty
	// string (the page refreshes every 2 s).
	waitText := func(what, expr string) string {
		t.Helper()
		for {
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if s != "" {
				return s
			}
			select {
			case <-ctx.Done():
				shot("timeout.png")
				t.Fatalf("the dashboard never showed %s", what)
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/#key="+readKey)); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	lag := waitText("a running replication's lag", `(() => {
		for (const tr of document.querySelectorAll("#reps tr.replication")) {
			const c = tr.querySelectorAll("td");
			if (c[2].textContent === "running" && /bytes|kB|MB/.test(c[4].textContent) && tr.querySelector("svg.lagchart path")) return c[4].textContent;
		}
		return "";
	})()`)
	t.Logf("dashboard lag: %s", lag)
	status := waitText("the finished job", fmt.Sprintf(`(() => {
		for (const tr of document.querySelectorAll("#jobs tr.job")) {
			if (tr.querySelector("a").textContent === %q) return tr.querySelectorAll("td")[2].textContent;
		}
		return "";
	})()`, finishedJob))
	if status != "succeeded" {
		t.Errorf("finished job %s shows status %q", finishedJob, status)
	}
	shot("dashboard.png")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { for (const a of document.querySelectorAll("#jobs tr.job a")) if (a.textContent === %q) a.click(); return true; })()`, finishedJob))); err != nil {
		t.Fatal(err)
	}
	logText := waitText("the finished job's log", `document.getElementById("log").hidden ? "" : document.getElementById("log").textContent`)
	if !strings.Contains(logText, "Apply complete.") {
		t.Errorf("the job's log in the dashboard lacks its output:\n%s", logText)
	}
	phases := waitText("the finished job's phases", `document.getElementById("phases").textContent`)
	if !strings.Contains(phases, "Plan: ") || !strings.Contains(phases, "Apply complete.") {
		t.Errorf("the job's phases: %q", phases)
	}
	shot("job-log.png")
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(consoleErrors, "\n"))
	}
}
