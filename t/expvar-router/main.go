// expvar-router: the VMware event router's /stats page, for comparing
// vcpipe-metrics with it. The router (vmware-samples/vcenter-event-broker-
// appliance, vmware-event-router/internal/metrics/{server,metrics}.go)
// serves Go's expvar.Handler with these variables: the expvar.Map
// "vmware.event.router.stats" of *EventStats (json.Marshal as String),
// system.numberOfSeconds (Int), system.programName (String),
// system.lastLoad (Float), system.allLoad (Func of a load struct), plus
// expvar's own cmdline and memstats.
//
// This program publishes the same variables with the same types, fills
// them with the values of a vcpipe-metrics /stats answer read on stdin,
// and writes what expvar.Handler answers: the Content-Type on the first
// line, then the body. memstats is this program's own runtime's.
package main

import (
	"encoding/json"
	"expvar"
	"fmt"
	"net/http/httptest"
	"os"
	"time"
)

type InvocationDetails struct {
	SuccessCount int
	FailureCount int
}

type EventStats struct {
	Provider    string                        `json:"-"`
	Type        string                        `json:"type"`
	Address     string                        `json:"address"`
	Started     time.Time                     `json:"started"`
	EventsTotal *int                          `json:"events_total,omitempty"`
	EventsErr   *int                          `json:"events_err,omitempty"`
	EventsSec   *float64                      `json:"events_per_sec,omitempty"`
	Invocations map[string]*InvocationDetails `json:"invocations,omitempty"`
}

func (s *EventStats) String() string {
	b, err := json.Marshal(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

type load struct {
	Load1  float64
	Load5  float64
	Load15 float64
}

type page struct {
	Cmdline         []string              `json:"cmdline"`
	AllLoad         load                  `json:"system.allLoad"`
	LastLoad        float64               `json:"system.lastLoad"`
	NumberOfSeconds int64                 `json:"system.numberOfSeconds"`
	ProgramName     string                `json:"system.programName"`
	Stats           map[string]EventStats `json:"vmware.event.router.stats"`
}

func main() {
	var in page
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintf(os.Stderr, "expvar-router: %v\n", err)
		os.Exit(1)
	}
	os.Args = in.Cmdline
	m := expvar.NewMap("vmware.event.router.stats")
	for k, v := range in.Stats {
		v := v
		m.Set(k, &v)
	}
	expvar.NewInt("system.numberOfSeconds").Set(in.NumberOfSeconds)
	expvar.NewString("system.programName").Set(in.ProgramName)
	expvar.NewFloat("system.lastLoad").Set(in.LastLoad)
	expvar.Publish("system.allLoad", expvar.Func(func() interface{} { return in.AllLoad }))

	rec := httptest.NewRecorder()
	expvar.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
	fmt.Printf("%s\n%s", rec.Header().Get("Content-Type"), rec.Body.String())
}
