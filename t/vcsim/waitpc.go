package main

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// History mode's property collector.
//
// The stock simulator answers WaitForUpdatesEx only on a 250 ms ticker
// ("allow for updates to accumulate"), so every reader of latestPage sees
// 0-250 ms of added delay that vCenter does not add. historyPC answers a
// wait whose filters watch only history collectors' latestPage as soon as
// a page changes; any other filter falls back to the stock code. It also
// keeps per-collector state (what each filter was last told), where the
// stock per-session root collectors share one handler slot.

type historyPC struct {
	simulator.PropertyCollector

	// Zero value is usable: per-session instances are made by reflect.New.
	mu      sync.Mutex
	version int64
	sent    map[types.ManagedObjectReference]map[*historyCollector]uint64 // filter -> collector -> page generation reported
	cancel  context.CancelFunc
}

// installHistoryPC replaces the root property collector; the simulator
// clones its type for each session.
func installHistoryPC(content types.ServiceContent) {
	pc := &historyPC{}
	pc.Self = content.PropertyCollector
	simulator.Map.Put(pc)
}

func (p *historyPC) CreatePropertyCollector(ctx *simulator.Context, req *types.CreatePropertyCollector) soap.HasFault {
	pc := &historyPC{}
	pc.Self = types.ManagedObjectReference{Type: "PropertyCollector"}
	return &methods.CreatePropertyCollectorBody{
		Res: &types.CreatePropertyCollectorResponse{Returnval: ctx.Session.Put(pc).Reference()},
	}
}

func (p *historyPC) CancelWaitForUpdates(req *types.CancelWaitForUpdates) soap.HasFault {
	p.mu.Lock()
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Unlock()
	return p.PropertyCollector.CancelWaitForUpdates(req)
}

func (p *historyPC) DestroyPropertyCollector(ctx *simulator.Context, req *types.DestroyPropertyCollector) soap.HasFault {
	p.CancelWaitForUpdates(&types.CancelWaitForUpdates{This: req.This})
	return p.PropertyCollector.DestroyPropertyCollector(ctx, req)
}

// watch is one (filter, collector) pair of a pure latestPage wait.
type watch struct {
	filter types.ManagedObjectReference
	c      *historyCollector
}

// watches returns the pairs when every filter of this collector watches
// only history collectors' latestPage, without traversal; ok is false
// otherwise (the stock code serves those).
func (p *historyPC) watches(ctx *simulator.Context) (w []watch, h *historyManager, ok bool) {
	for _, fref := range p.Filter {
		f, isFilter := ctx.Session.Get(fref).(*simulator.PropertyFilter)
		if !isFilter {
			return nil, nil, false
		}
		for _, ps := range f.Spec.PropSet {
			if ps.Type != "EventHistoryCollector" || (ps.All != nil && *ps.All) {
				return nil, nil, false
			}
			for _, path := range ps.PathSet {
				if path != "latestPage" {
					return nil, nil, false
				}
			}
		}
		for _, os := range f.Spec.ObjectSet {
			if len(os.SelectSet) != 0 || (os.Skip != nil && *os.Skip) {
				return nil, nil, false
			}
			c, isHist := ctx.Session.Get(os.Obj).(*historyCollector)
			if !isHist {
				return nil, nil, false
			}
			w = append(w, watch{filter: fref, c: c})
			h = c.h
		}
	}
	return w, h, len(w) != 0
}

// collect builds the updates for pages this collector has not reported yet
// (Enter for a pair never reported, Modify after). Caller holds h.mu.
func (p *historyPC) collect(ws []watch) *types.UpdateSet {
	if p.sent == nil {
		p.sent = make(map[types.ManagedObjectReference]map[*historyCollector]uint64)
	}
	set := &types.UpdateSet{}
	byFilter := map[types.ManagedObjectReference]*types.PropertyFilterUpdate{}
	for _, w := range ws {
		seen := p.sent[w.filter]
		if seen == nil {
			seen = make(map[*historyCollector]uint64)
			p.sent[w.filter] = seen
		}
		gen, reported := seen[w.c]
		if reported && gen == w.c.gen {
			continue
		}
		seen[w.c] = w.c.gen
		kind := types.ObjectUpdateKindModify
		if !reported {
			kind = types.ObjectUpdateKindEnter
		}
		fu := byFilter[w.filter]
		if fu == nil {
			set.FilterSet = append(set.FilterSet, types.PropertyFilterUpdate{Filter: w.filter})
			fu = &set.FilterSet[len(set.FilterSet)-1]
			byFilter[w.filter] = fu
		}
		fu.ObjectSet = append(fu.ObjectSet, types.ObjectUpdate{
			Obj:  w.c.Self,
			Kind: kind,
			ChangeSet: []types.PropertyChange{{
				Name: "latestPage",
				Op:   types.PropertyChangeOpAssign,
				Val:  types.ArrayOfEvent{Event: w.c.latest()},
			}},
		})
	}
	if len(set.FilterSet) == 0 {
		return nil
	}
	p.version++
	set.Version = strconv.FormatInt(p.version, 10)
	return set
}

func (p *historyPC) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	p.mu.Lock()
	ws, h, ok := p.watches(ctx)
	if !ok {
		p.mu.Unlock()
		return p.PropertyCollector.WaitForUpdatesEx(ctx, req)
	}
	wait, cancel := context.WithCancel(context.Background())
	once := false
	if o := req.Options; o != nil && o.MaxWaitSeconds != nil {
		once = *o.MaxWaitSeconds == 0
		if *o.MaxWaitSeconds > 0 {
			cancel()
			wait, cancel = context.WithTimeout(context.Background(), time.Duration(*o.MaxWaitSeconds)*time.Second)
		}
	}
	if p.cancel != nil {
		p.cancel() // one wait per collector, as on vCenter
	}
	if req.Version == "" {
		p.sent = nil // an empty version asks for the whole state again
	}
	p.cancel = cancel
	p.mu.Unlock()
	defer cancel()

	body := &methods.WaitForUpdatesExBody{Res: &types.WaitForUpdatesExResponse{}}
	for {
		h.mu.Lock()
		p.mu.Lock()
		set := p.collect(ws)
		p.mu.Unlock()
		changed := h.changed
		h.mu.Unlock()
		if set != nil {
			body.Res.Returnval = set
			return body
		}
		if once {
			return body
		}
		select {
		case <-changed:
		case <-wait.Done():
			if wait.Err() == context.Canceled {
				body.Res = nil
				body.Fault_ = simulator.Fault("", new(types.RequestCanceled))
			}
			return body
		}
	}
}
