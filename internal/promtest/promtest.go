// Package promtest parses a /metrics page for tests with Prometheus's own
// text parser (github.com/prometheus/common/expfmt), so that what nproxy
// renders is checked against what a Prometheus server accepts, and reads
// sample values out of it.
//
// Only test code imports this package: the parser is not linked into the
// nproxy binary.
package promtest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Page is a parsed metrics page: its families by name.
type Page map[string]*dto.MetricFamily

// Parse parses text in the Prometheus text format (0.0.4), with the
// classic (legacy) name rules that promtool checks.
func Parse(text []byte) (Page, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	return Page(fams), nil
}

// Labels is a sample's label set written "a=x,b=y" (values without
// quotes or commas), matched as a subset of the sample's labels.
type Labels string

func (ls Labels) match(m *dto.Metric) bool {
	if ls == "" {
		return true
	}
	have := map[string]string{}
	for _, lp := range m.GetLabel() {
		have[lp.GetName()] = lp.GetValue()
	}
	for _, kv := range strings.Split(string(ls), ",") {
		k, v, _ := strings.Cut(kv, "=")
		if have[k] != v {
			return false
		}
	}
	return true
}

// Sum returns the sum of the values of family name's samples whose labels
// include ls: a counter's or gauge's value, or a histogram's count. ok is
// false when the family is missing or no sample matches.
func (p Page) Sum(name string, ls Labels) (v float64, ok bool) {
	f := p[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !ls.match(m) {
			continue
		}
		ok = true
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			v += float64(m.GetHistogram().GetSampleCount())
		default:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// Histogram returns the histogram sample of family name with labels ls
// (the first that matches), or nil.
func (p Page) Histogram(name string, ls Labels) *dto.Histogram {
	f := p[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		if ls.match(m) {
			return m.GetHistogram()
		}
	}
	return nil
}

// CheckHistograms reports every histogram sample whose buckets are not
// cumulative or whose +Inf bucket (the last, when rendered) differs from
// its count.
func (p Page) CheckHistograms() error {
	var errs []string
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := p[n]
		if f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			var prev uint64
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() < prev {
					errs = append(errs, fmt.Sprintf("%s%v: bucket le=%v goes down", n, m.GetLabel(), b.GetUpperBound()))
				}
				prev = b.GetCumulativeCount()
			}
			if prev > h.GetSampleCount() {
				errs = append(errs, fmt.Sprintf("%s%v: buckets %d > count %d", n, m.GetLabel(), prev, h.GetSampleCount()))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
