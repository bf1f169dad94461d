//go:build linux

package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// The profile contract with the server: when nproxy runs with the
// environment variable NPROXY_PROFILE_DIR=DIR, each worker process writes
//
//	DIR/cpu-<pid>.pprof   a runtime/pprof CPU profile of its whole life
//	DIR/heap-<pid>.pprof  the "allocs" profile, written when it exits
//
// when it exits on SIGTERM. bench gives every run its own DIR, stops the
// server with SIGTERM, waits for it to exit, then reads the files here.
const profileEnv = "NPROXY_PROFILE_DIR"

// funcStat is one function's share of a profile.
type funcStat struct {
	Function string  `json:"function"`
	Flat     int64   `json:"flat"`
	FlatPct  float64 `json:"flat_pct"`
	Cum      int64   `json:"cum"`
	CumPct   float64 `json:"cum_pct"`
}

// profileTop is the top of one merged profile.
type profileTop struct {
	Kind   string     `json:"kind"`   // "cpu" or "allocs"
	Sample string     `json:"sample"` // the sample type summed, e.g. "cpu/nanoseconds"
	Total  int64      `json:"total"`
	Files  int        `json:"files"`
	Merged string     `json:"merged_file"` // for go tool pprof
	ByFlat []funcStat `json:"by_flat"`
	ByCum  []funcStat `json:"by_cum"`
}

// profileSummary is one scenario and target's profiles, merged over rounds
// and workers.
type profileSummary struct {
	Scenario string       `json:"scenario"`
	Target   string       `json:"target"`
	Tops     []profileTop `json:"tops"`
}

// summarizeProfiles reads the profiles of every nproxy run, merges them per
// scenario and target, writes the merged files next to them and keeps the
// top functions. No profile at all is an error: the server ignored the
// contract.
func (r *report) summarizeProfiles(o *options, targets []target) error {
	found := 0
	for _, sc := range o.scenarios {
		for _, t := range targets {
			if !t.isNproxy() {
				continue
			}
			dir := filepath.Join(o.profile, sc.name, t.name)
			ps := profileSummary{Scenario: sc.name, Target: t.name}
			for _, kind := range []struct{ name, glob, sample string }{
				{"cpu", "cpu-*.pprof", "cpu"},
				{"allocs", "heap-*.pprof", "alloc_space"},
			} {
				files, _ := filepath.Glob(filepath.Join(dir, "round-*", kind.glob))
				if len(files) == 0 {
					continue
				}
				merged := filepath.Join(o.profile, fmt.Sprintf("%s-%s-%s.pprof", sc.name, t.name, kind.name))
				top, err := topOfFiles(files, kind.sample, o.top, merged)
				if err != nil {
					return fmt.Errorf("bench: profiles of %s %s: %w", sc.name, t.name, err)
				}
				top.Kind = kind.name
				ps.Tops = append(ps.Tops, *top)
				found += len(files)
			}
			if len(ps.Tops) > 0 {
				r.Profiles = append(r.Profiles, ps)
			}
		}
	}
	if found == 0 {
		return fmt.Errorf("bench: --profile: no profiles in %s: the nproxy workers wrote none (they should, given %s=DIR: cpu-<pid>.pprof and heap-<pid>.pprof on SIGTERM)", o.profile, profileEnv)
	}
	return nil
}

// topOfFiles parses and merges the profiles in files, writes the merged one
// to mergedPath, and returns its top n functions by flat and by cumulative
// value of the sample type named sample (the last type if none matches).
func topOfFiles(files []string, sample string, n int, mergedPath string) (*profileTop, error) {
	var ps []*profile.Profile
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		p, err := profile.Parse(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ps = append(ps, p)
	}
	merged, err := profile.Merge(ps)
	if err != nil {
		return nil, err
	}
	if out, err := os.Create(mergedPath); err == nil {
		merged.Write(out)
		out.Close()
	}
	top := topFunctions(merged, sample, n)
	top.Files = len(files)
	top.Merged = mergedPath
	return top, nil
}

// topFunctions sums the chosen sample value per function: flat where the
// function is the innermost frame of a sample (inlined frames count as their
// own function, as pprof shows them), cumulative wherever it is on the stack,
// once per sample even when recursive.
func topFunctions(p *profile.Profile, sample string, n int) *profileTop {
	idx := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == sample {
			idx = i
		}
	}
	top := &profileTop{}
	if idx < 0 {
		return top
	}
	top.Sample = p.SampleType[idx].Type + "/" + p.SampleType[idx].Unit
	flat := map[string]int64{}
	cum := map[string]int64{}
	seen := map[string]bool{}
	for _, s := range p.Sample {
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		top.Total += v
		clear(seen)
		first := true
		for _, loc := range s.Location {
			for _, line := range loc.Line { // innermost inlined frame first
				name := "?"
				if line.Function != nil {
					name = line.Function.Name
				}
				if first {
					flat[name] += v
					first = false
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
			if len(loc.Line) == 0 && first {
				name := fmt.Sprintf("0x%x", loc.Address)
				flat[name] += v
				cum[name] += v
				first = false
			}
		}
	}
	stat := func(name string) funcStat {
		f := funcStat{Function: name, Flat: flat[name], Cum: cum[name]}
		if top.Total > 0 {
			f.FlatPct = 100 * float64(f.Flat) / float64(top.Total)
			f.CumPct = 100 * float64(f.Cum) / float64(top.Total)
		}
		return f
	}
	pick := func(m map[string]int64) []funcStat {
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool {
			if m[names[i]] != m[names[j]] {
				return m[names[i]] > m[names[j]]
			}
			return names[i] < names[j]
		})
		var out []funcStat
		for _, name := range names[:min(n, len(names))] {
			out = append(out, stat(name))
		}
		return out
	}
	top.ByFlat = pick(flat)
	top.ByCum = pick(cum)
	return top
}

// formatValue prints a sample value in its unit: CPU time in seconds,
// allocation space in MB, counts as they are.
func formatValue(v int64, sample string) string {
	switch {
	case strings.HasSuffix(sample, "/nanoseconds"):
		return fmt.Sprintf("%.2fs", float64(v)/1e9)
	case strings.HasSuffix(sample, "/bytes"):
		return fmt.Sprintf("%.1fMB", float64(v)/1e6)
	}
	return fmt.Sprint(v)
}

func (ps *profileSummary) print(w io.Writer) {
	for _, t := range ps.Tops {
		fmt.Fprintf(w, "\nprofile %s %s, %s (%s) %s in %d file(s); go tool pprof %s\n",
			ps.Scenario, ps.Target, t.Kind, t.Sample, formatValue(t.Total, t.Sample), t.Files, t.Merged)
		for _, list := range []struct {
			title string
			rows  []funcStat
		}{{"by flat", t.ByFlat}, {"by cumulative", t.ByCum}} {
			fmt.Fprintf(w, "  %s:\n  %10s %6s %10s %6s  %s\n", list.title, "flat", "flat%", "cum", "cum%", "function")
			for _, f := range list.rows {
				fmt.Fprintf(w, "  %10s %5.1f%% %10s %5.1f%%  %s\n",
					formatValue(f.Flat, t.Sample), f.FlatPct, formatValue(f.Cum, t.Sample), f.CumPct, f.Function)
			}
		}
	}
}
