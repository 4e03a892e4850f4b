package main

import (
	"context"
	"reflect"
	"sync"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// observer sees every event the simulator posts, in posting order. The
// simulator has no event hook, but its PostEvent updates the latestPage of
// every collector through Registry.Update, which calls registered
// handlers: a sentinel collector with an empty filter (owned by the control
// session, which never ends) therefore reports each new event to us, inside
// PostEvent, under the EventManager's lock.
type observer struct {
	mu       sync.Mutex
	sentinel types.ManagedObjectReference
	events   []types.BaseEvent
	hist     *historyManager // nil unless -history

	cond *sync.Cond
}

var observerRef = types.ManagedObjectReference{Type: "VcpipeObserver", Value: "vcpipe-observer"}

func newObserver(ctx context.Context, c *vim25.Client, history bool) (*observer, error) {
	o := &observer{}
	o.cond = sync.NewCond(&o.mu)
	hc, err := event.NewManager(c).CreateCollectorForEvents(ctx, types.EventFilterSpec{})
	if err != nil {
		return nil, err
	}
	o.sentinel = hc.Reference()
	simulator.Map.AddHandler(o)
	return o, nil
}

func (o *observer) Reference() types.ManagedObjectReference   { return observerRef }
func (o *observer) PutObject(mo.Reference)                    {}
func (o *observer) RemoveObject(types.ManagedObjectReference) {}

func (o *observer) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	if obj.Reference() != o.sentinel {
		return
	}
	for _, ch := range changes {
		if ch.Name != "latestPage" {
			continue
		}
		var page []types.BaseEvent
		switch v := ch.Val.(type) {
		case types.ArrayOfEvent:
			page = v.Event
		case *types.ArrayOfEvent:
			page = v.Event
		case []types.BaseEvent:
			page = v
		}
		if len(page) == 0 {
			continue
		}
		// The sentinel's page is newest first; one update per PostEvent.
		o.add(page[0])
	}
}

func (o *observer) add(ev types.BaseEvent) {
	if o.hist != nil {
		// Keys are ours in history mode; assigned before anyone can read
		// the event, as PostEvent still holds the EventManager lock.
		o.hist.assignKey(ev)
	}
	o.mu.Lock()
	o.events = append(o.events, ev)
	o.cond.Broadcast()
	o.mu.Unlock()
	if o.hist != nil {
		o.hist.publish(ev)
	}
}

// mark returns the number of events seen so far.
func (o *observer) mark() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.events)
}

// since returns the events seen after mark m.
func (o *observer) since(m int) []types.BaseEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m > len(o.events) {
		return nil
	}
	return append([]types.BaseEvent(nil), o.events[m:]...)
}

func (o *observer) snapshot() []types.BaseEvent {
	return o.since(0)
}

// className is the event's class as vcpipe names it: the type name, or the
// eventTypeId of EventEx / ExtendedEvent (govmomi 0.24 names the
// ExtendedEvent's id field EventTypeId, XML eventTypeId).
func className(ev types.BaseEvent) string {
	switch e := ev.(type) {
	case *types.EventEx:
		return e.EventTypeId
	case *types.ExtendedEvent:
		return e.EventTypeId
	}
	return reflect.TypeOf(ev).Elem().Name()
}
