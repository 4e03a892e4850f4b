// govmomi-events: a reference vCenter event reader built on govmomi's own
// client. It prints one JSON line per event:
//
//	{"class":"VmPoweredOnEvent","key":42,"data":<json.Marshal(event)>}
//
// class is the Go type name, or the eventTypeId of EventEx/ExtendedEvent;
// data is exactly govmomi's json.Marshal of the event. With -stamp each line
// also gets "recvNs", the Unix time in nanoseconds when it was written; with
// -xml, "xml": what Tanzu's VSphereSource sends as its application/xml
// payload (encoding/xml.Marshal of the event, as cloudevents sdk-go does);
// with -connector, "connector": the message the OpenFaaS vcenter-connector
// sent its functions, built by its own code (handleEvent and its helpers
// from openfaas-incubator/vcenter-connector pkg/events/events.go @56e929e,
// verbatim but for a nil argument, which made it panic: left out here).
//
// -mode latest (default) reads like `govc events [-f]`: event.Manager.Events
// on the root folder, i.e. the collector's latestPage and then property
// updates of it. -mode readnext creates a collector and pages through it
// with ReadNextEvents (the whole history on vCenter, or vcsim -history),
// polling every -poll in follow mode.
//
// Credentials come from VC_USERNAME and VC_PASSWORD.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	stdxml "encoding/xml"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

var (
	out         = bufio.NewWriter(os.Stdout)
	asXML       bool
	asConnector bool
	connMgr     *event.Manager
	connSource  string
)

// ---- the vcenter-connector's message (pkg/events/events.go) ----

type OutboundEvent struct {
	Topic    string `json:"topic,omitempty"`
	Category string `json:"category,omitempty"`
	Source   string `json:"source"`

	UserName               string                         `json:"userName,omitempty"`
	CreatedTime            time.Time                      `json:"createdTime,omitempty"`
	ObjectName             string                         `json:"objectName,omitempty"`
	ManagedObjectReference *types.ManagedObjectReference `json:"managedObjectReference,omitempty"`
}

func handleEvent(event types.BaseEvent, m *event.Manager, source string) (string, string, error) {
	eventType := reflect.TypeOf(event).Elem().Name()
	topic := convertToTopic(eventType)
	user := event.GetEvent().UserName
	createdTime := event.GetEvent().CreatedTime
	category, err := m.EventCategory(context.Background(), event)
	if err != nil {
		return "", "", fmt.Errorf("error retrieving event category: %v", err)
	}
	name, ref := getObjectNameAndMoref(event)
	message, err := json.Marshal(OutboundEvent{Topic: topic, Category: category, UserName: user,
		CreatedTime: createdTime, ObjectName: name, ManagedObjectReference: ref, Source: source})
	if err != nil {
		return "", "", err
	}
	return topic, string(message), nil
}

func getObjectNameAndMoref(event types.BaseEvent) (string, *types.ManagedObjectReference) {
	var ref *types.ManagedObjectReference
	var objName string
	switch baseEvent := event.(type) {
	case types.BaseAlarmEvent:
		e := baseEvent.GetAlarmEvent()
		objName = e.Alarm.Name
		ref = &e.Alarm.Alarm
	case types.BaseDatastoreEvent:
		e := baseEvent.GetDatastoreEvent()
		if e.Datastore != nil {
			objName = e.Datastore.Name
			ref = &e.Datastore.Datastore
		}
	case types.BaseHostEvent:
		e := baseEvent.GetHostEvent()
		if e.Host != nil {
			objName = e.Host.Name
			ref = &e.Host.Host
		}
	case types.BaseResourcePoolEvent:
		e := baseEvent.GetResourcePoolEvent()
		objName = e.ResourcePool.Name
		ref = &e.ResourcePool.ResourcePool
	case types.BaseVmEvent:
		e := baseEvent.GetVmEvent()
		if e.Vm != nil {
			objName = e.Vm.Name
			ref = &e.Vm.Vm
		}
	}
	return objName, ref
}

func convertToTopic(eventType string) string {
	eventType = strings.Replace(eventType, "Event", "", -1)
	return camelCaseToLowerSeparated(eventType, ".")
}

// From https://github.com/vmware/dispatch/blob/master/pkg/utils/str_convert.go
func camelCaseToLowerSeparated(src string, sep string) string {
	var words []string
	var word []rune
	var last rune
	for _, r := range src {
		if unicode.IsUpper(r) {
			if unicode.IsUpper(last) {
				word = append(word, r)
			} else {
				if len(word) > 0 {
					words = append(words, strings.ToLower(string(word)))
				}
				word = []rune{r}
			}
		} else {
			if unicode.IsUpper(last) && len(word) >= 2 {
				words = append(words, strings.ToLower(string(word[:len(word)-1])))
				word = []rune{last, r}
			} else {
				word = append(word, r)
			}
		}
		last = r
	}
	if len(word) > 0 {
		words = append(words, strings.ToLower(string(word)))
	}
	return strings.Join(words, sep)
}

func className(ev types.BaseEvent) string {
	switch e := ev.(type) {
	case *types.EventEx:
		return e.EventTypeId
	case *types.ExtendedEvent:
		return e.EventTypeId
	}
	return reflect.TypeOf(ev).Elem().Name()
}

func emit(ev types.BaseEvent, stamp bool) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	cls, _ := json.Marshal(className(ev))
	line := make([]byte, 0, len(data)+96)
	line = append(line, `{"class":`...)
	line = append(line, cls...)
	line = append(line, `,"key":`...)
	line = strconv.AppendInt(line, int64(ev.GetEvent().Key), 10)
	line = append(line, `,"data":`...)
	line = append(line, data...)
	if asXML {
		x, err := stdxml.Marshal(ev)
		if err != nil {
			return err
		}
		xs, _ := json.Marshal(string(x))
		line = append(line, `,"xml":`...)
		line = append(line, xs...)
	}
	if asConnector {
		_, msg, err := handleEvent(ev, connMgr, connSource)
		if err != nil {
			return err
		}
		line = append(line, `,"connector":`...)
		line = append(line, msg...)
	}
	if stamp {
		line = append(line, `,"recvNs":`...)
		line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
	}
	line = append(line, "}\n"...)
	if _, err := out.Write(line); err != nil {
		return err
	}
	return out.Flush()
}

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		die("bad time %q: %v", s, err)
	}
	return &t
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "govmomi-events: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	rawURL := flag.String("url", "", "vCenter SDK URL, e.g. https://127.0.0.1:8989/sdk")
	insecure := flag.Bool("insecure", false, "skip TLS verification")
	caFile := flag.String("cafile", "", "PEM file of CA certificates to trust")
	once := flag.Bool("once", false, "read what exists and exit")
	page := flag.Int("page", 100, "page size (latestPage size, or ReadNextEvents maxCount)")
	mode := flag.String("mode", "latest", "latest (govc events style) or readnext")
	poll := flag.Duration("poll", time.Second, "readnext follow mode: wait between empty reads")
	stamp := flag.Bool("stamp", false, "add recvNs to each line")
	flag.BoolVar(&asConnector, "connector", false, "add connector: the OpenFaaS vcenter-connector's message")
	flag.BoolVar(&asXML, "xml", false, "add xml: encoding/xml.Marshal of each event (VSphereSource's application/xml)")
	begin := flag.String("begin", "", "readnext: filter.time.beginTime (RFC 3339)")
	end := flag.String("end", "", "readnext: filter.time.endTime (RFC 3339)")
	flag.Parse()

	if *rawURL == "" {
		die("-url is required")
	}
	if *mode != "latest" && *mode != "readnext" {
		die("-mode must be latest or readnext")
	}
	u, err := soap.ParseURL(*rawURL)
	if err != nil || u == nil {
		die("bad -url: %v", err)
	}
	user, pass := os.Getenv("VC_USERNAME"), os.Getenv("VC_PASSWORD")
	u.User = nil

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; cancel() }()

	sc := soap.NewClient(u, *insecure)
	if *caFile != "" {
		if err := sc.SetRootCAs(*caFile); err != nil {
			die("cafile: %v", err)
		}
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		die("connect: %v", err)
	}
	sm := session.NewManager(c)
	if err := sm.Login(ctx, url.UserPassword(user, pass)); err != nil {
		die("login: %v", err)
	}
	defer func() {
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		_ = sm.Logout(lctx)
	}()

	connMgr = event.NewManager(c)
	connSource = c.URL().Host
	root := c.ServiceContent.RootFolder
	filter := types.EventFilterSpec{
		Entity: &types.EventFilterSpecByEntity{Entity: root, Recursion: types.EventFilterSpecRecursionOptionAll},
	}
	if *begin != "" || *end != "" {
		filter.Time = &types.EventFilterSpecByTime{BeginTime: parseTime(*begin), EndTime: parseTime(*end)}
	}
	if *mode == "latest" {
		err = readLatest(ctx, c, root, int32(*page), !*once, *stamp)
	} else {
		err = readNext(ctx, c, filter, int32(*page), !*once, *poll, *stamp)
	}
	if err != nil && ctx.Err() == nil {
		die("%v", err)
	}
}

// readLatest is `govc events [-f]`: the callback gets each new batch of
// latestPage newest first; print it oldest first.
func readLatest(ctx context.Context, c *vim25.Client, root types.ManagedObjectReference, page int32, follow, stamp bool) error {
	m := event.NewManager(c)
	return m.Events(ctx, []types.ManagedObjectReference{root}, page, follow, false,
		func(_ types.ManagedObjectReference, evs []types.BaseEvent) error {
			for i := len(evs) - 1; i >= 0; i-- {
				if err := emit(evs[i], stamp); err != nil {
					return err
				}
			}
			return nil
		})
}

// readNext pages through a collector over the whole inventory.
func readNext(ctx context.Context, c *vim25.Client, filter types.EventFilterSpec, page int32, follow bool, poll time.Duration, stamp bool) error {
	m := event.NewManager(c)
	hc, err := m.CreateCollectorForEvents(ctx, filter)
	if err != nil {
		return err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_ = object.NewHistoryCollector(c, hc.Reference()).Destroy(dctx)
	}()
	for {
		evs, err := hc.ReadNextEvents(ctx, page)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := emit(ev, stamp); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}
