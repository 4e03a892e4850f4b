// gen-random-events writes one ReadNextEvents response holding an instance of
// every event class govmomi knows, each filled with pseudo-random values
// (seeded, so reproducible): strings with escapes and non-ASCII, integers over
// their whole range, floats, times with nanoseconds and offsets, optional
// fields present or not, slices, and interface-typed fields holding a random
// registered implementor. Encoded with govmomi's own vim25/xml encoder, so
// t/0200-vimjson.t can compare vc-source's mapper with govmomi's decoder on
// every class and field kind.
//
//	gen-random-events [-seed N] > response.xml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

//go:linkname registry github.com/vmware/govmomi/vim25/types.t
var registry map[string]reflect.Type

var (
	rnd      *rand.Rand
	names    []string
	timeType = reflect.TypeOf(time.Time{})
	anyType  = reflect.TypeOf((*types.AnyType)(nil)).Elem()
	families = map[reflect.Type][]reflect.Type{}
)

var words = []string{"", "web-01", "VSPHERE.LOCAL\\Administrator", "a<b>&c\"d'e", "Größe über", "日本語",
	"😀 emoji", "tab\tand\nnewline", "cr\rhere", "\u2028\u2029", "  spaced  ", "]]>", "x"}

func family(t reflect.Type) []reflect.Type {
	if f, ok := families[t]; ok {
		return f
	}
	var f []reflect.Type
	for _, n := range names {
		rt := registry[n]
		if rt.Kind() == reflect.Struct && strings.HasPrefix(n, "Base") == false &&
			reflect.PtrTo(rt).Implements(t) {
			f = append(f, rt)
		}
	}
	families[t] = f
	return f
}

func randTime() time.Time {
	sec := rnd.Int63n(4102444800) // 1970..2100
	ns := int64(0)
	switch rnd.Intn(3) {
	case 1:
		ns = rnd.Int63n(1e9)
	case 2:
		ns = rnd.Int63n(1000) * 1e6
	}
	t := time.Unix(sec, ns).UTC()
	if rnd.Intn(3) == 0 {
		t = t.In(time.FixedZone("", (rnd.Intn(28)-14)*1800))
	}
	return t
}

func randAny(depth int) interface{} {
	switch rnd.Intn(12) {
	case 0:
		return words[rnd.Intn(len(words))]
	case 1:
		return int32(rnd.Uint32())
	case 2:
		return int64(rnd.Uint64())
	case 3:
		return rnd.Intn(2) == 0
	case 4:
		return rnd.NormFloat64() * math.Pow(10, float64(rnd.Intn(40)-20))
	case 5:
		return float32(rnd.NormFloat64() * 1000)
	case 6:
		return randTime()
	case 7:
		return types.ManagedObjectReference{Type: "VirtualMachine", Value: fmt.Sprintf("vm-%d", rnd.Intn(1000))}
	case 8:
		return types.ArrayOfString{String: []string{words[rnd.Intn(len(words))], "b"}}
	case 9:
		return int16(rnd.Uint32())
	case 10:
		return types.ArrayOfInt{Int: []int32{int32(rnd.Uint32()), -1}}
	default:
		if depth > 3 {
			return "deep"
		}
		v := reflect.New(reflect.TypeOf(types.Description{})).Elem()
		fill(v, depth+1)
		return v.Interface()
	}
}

func fill(v reflect.Value, depth int) {
	t := v.Type()
	switch {
	case t == timeType:
		v.Set(reflect.ValueOf(randTime()))
		return
	case t == anyType:
		if rnd.Intn(4) > 0 {
			v.Set(reflect.ValueOf(randAny(depth)))
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(words[rnd.Intn(len(words))])
	case reflect.Bool:
		v.SetBool(rnd.Intn(2) == 0)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(rnd.Uint64())
		if rnd.Intn(2) == 0 {
			x = int64(rnd.Intn(2000) - 1000)
		}
		v.SetInt(x >> (64 - t.Bits()))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rnd.Uint64() >> (64 - t.Bits()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(rnd.NormFloat64() * math.Pow(10, float64(rnd.Intn(30)-15)))
	case reflect.Ptr:
		if depth > 6 || rnd.Intn(3) == 0 {
			return
		}
		p := reflect.New(t.Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			// The encoder writes []byte as text: keep it valid XML.
			v.SetBytes([]byte(words[rnd.Intn(len(words))]))
			return
		}
		if depth > 6 {
			return
		}
		n := rnd.Intn(3)
		s := reflect.MakeSlice(t, n, n)
		for i := 0; i < n; i++ {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Interface:
		f := family(t)
		if len(f) == 0 || depth > 6 || rnd.Intn(4) == 0 {
			return
		}
		p := reflect.New(f[rnd.Intn(len(f))])
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).PkgPath == "" {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

func main() {
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	rnd = rand.New(rand.NewSource(*seed))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	var evs []types.BaseEvent
	for _, rt := range family(reflect.TypeOf((*types.BaseEvent)(nil)).Elem()) {
		p := reflect.New(rt)
		fill(p.Elem(), 0)
		evs = append(evs, p.Interface().(types.BaseEvent))
	}
	b, err := xml.Marshal(types.ReadNextEventsResponse{Returnval: evs})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-random-events:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`)
	w.Write(b)
	w.WriteString("</soapenv:Body></soapenv:Envelope>\n")
	w.Flush()
	fmt.Fprintf(os.Stderr, "gen-random-events: %d events, %d bytes\n", len(evs), len(b))
}
