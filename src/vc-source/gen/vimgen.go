// vimgen writes vimtypes.c and vimtypes.h: a table of govmomi's vim25 data
// types (names, fields in encoding/json order, XML element names, kinds) for
// vc-source's XML -> JSON mapper (vimjson.c).
//
// It walks govmomi's own type registry by reflection, so the table follows
// whatever govmomi version it is built against. Build and run (GOPATH mode,
// Debian's golang-github-vmware-govmomi-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run vimgen.go OUTDIR
//
// or `make regen-vimtypes`.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/vim25/types"
)

// The registry map behind types.TypeFunc is unexported; this is the same map
// the govmomi XML decoder consults, so read it directly.
//
//go:linkname registry github.com/vmware/govmomi/vim25/types.t
var registry map[string]reflect.Type

const (
	kString = iota + 1
	kBool
	kInt8
	kInt16
	kInt32
	kInt64
	kUint8
	kUint16
	kUint32
	kUint64
	kFloat32
	kFloat64
	kTime
	kBytes
	kMOR
	kStruct
	kIface
	kEnum
)

var kindNames = []string{"", "VK_STRING", "VK_BOOL", "VK_INT8", "VK_INT16",
	"VK_INT32", "VK_INT64", "VK_UINT8", "VK_UINT16", "VK_UINT32", "VK_UINT64",
	"VK_FLOAT32", "VK_FLOAT64", "VK_TIME", "VK_BYTES", "VK_MOR", "VK_STRUCT",
	"VK_IFACE", "VK_ENUM"}

const (
	fPtr   = 1
	fSlice = 2
	fOmit  = 4 // xml ",omitempty": encoding/xml.Marshal leaves zero values out
)

var (
	timeType  = reflect.TypeOf(time.Time{})
	morType   = reflect.TypeOf(types.ManagedObjectReference{})
	anyType   = reflect.TypeOf((*types.AnyType)(nil)).Elem()
	eventType = reflect.TypeOf((*types.BaseEvent)(nil)).Elem()
	faultType = reflect.TypeOf((*types.BaseMethodFault)(nil)).Elem()
)

type field struct {
	json, xml string
	kind      int
	flags     int
	ref       reflect.Type // struct, enum or interface type
	index     []int
}

type typeEnt struct {
	name   string
	t      reflect.Type
	kind   string // TK_STRUCT, TK_ENUM, TK_MOR
	fields []field
	base   reflect.Type // first embedded struct, nil if none
}

var (
	typesByGo = map[reflect.Type]*typeEnt{}
	ifaces    = map[reflect.Type]bool{}
	queue     []reflect.Type
)

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "vimgen: "+f+"\n", a...)
	os.Exit(1)
}

// goName is the name the registry uses for a type.
func goName(t reflect.Type) string { return t.Name() }

func want(t reflect.Type) {
	if t.Kind() == reflect.Interface {
		if !ifaces[t] {
			ifaces[t] = true
			// Any registered implementor may come in by xsi:type.
			for _, n := range sortedNames() {
				rt := registry[n]
				if t != anyType && rt.Kind() == reflect.Struct &&
					(reflect.PtrTo(rt).Implements(t) || rt.Implements(t)) {
					want(rt)
				}
			}
		}
		return
	}
	if _, ok := typesByGo[t]; ok {
		return
	}
	switch {
	case t == morType:
		typesByGo[t] = &typeEnt{name: goName(t), t: t, kind: "TK_MOR"}
	case t.Kind() == reflect.String:
		typesByGo[t] = &typeEnt{name: goName(t), t: t, kind: "TK_ENUM"}
	case t.Kind() == reflect.Struct:
		typesByGo[t] = &typeEnt{name: goName(t), t: t, kind: "TK_STRUCT"}
		queue = append(queue, t)
	default:
		die("unexpected registered type %v", t)
	}
}

var sortedCache []string

func sortedNames() []string {
	if sortedCache == nil {
		for n := range registry {
			sortedCache = append(sortedCache, n)
		}
		sort.Strings(sortedCache)
	}
	return sortedCache
}

// scalar classifies a non-pointer, non-slice Go type.
func scalar(t reflect.Type) (int, reflect.Type) {
	switch {
	case t == timeType:
		return kTime, nil
	case t == morType:
		want(t)
		return kMOR, nil
	case t.Kind() == reflect.Interface:
		want(t)
		return kIface, t
	case t.Kind() == reflect.Struct:
		want(t)
		return kStruct, t
	case t.Kind() == reflect.String:
		if t.Name() != "string" {
			want(t)
			return kEnum, t
		}
		return kString, nil
	}
	if k, ok := basicKinds[t.Kind()]; ok {
		return k, nil
	}
	die("unsupported field type %v", t)
	return 0, nil
}

// basicKinds: the Go kinds that are a scalar kind of the table as they are.
var basicKinds = map[reflect.Kind]int{
	reflect.Bool: kBool,
	reflect.Int8: kInt8, reflect.Int16: kInt16,
	reflect.Int32: kInt32, reflect.Int64: kInt64,
	reflect.Uint8: kUint8, reflect.Uint16: kUint16,
	reflect.Uint32: kUint32, reflect.Uint64: kUint64,
	reflect.Float32: kFloat32, reflect.Float64: kFloat64,
}

func classify(t reflect.Type) (kind, flags int, ref reflect.Type) {
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return kBytes, 0, nil
	}
	if t.Kind() == reflect.Ptr {
		flags |= fPtr
		t = t.Elem()
	} else if t.Kind() == reflect.Slice {
		flags |= fSlice
		t = t.Elem()
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return kBytes, flags, nil
		}
		if t.Kind() == reflect.Ptr || t.Kind() == reflect.Slice {
			die("unsupported slice element %v", t)
		}
	}
	if t.Kind() == reflect.Ptr || t.Kind() == reflect.Slice {
		die("unsupported nesting %v", t)
	}
	kind, ref = scalar(t)
	return
}

// cand is a field candidate while flattening, as encoding/json sees it.
type cand struct {
	name  string
	xml   string
	omit  bool
	index []int
	typ   reflect.Type
}

func walk(t reflect.Type, index []int, out *[]cand) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		idx := append(append([]int{}, index...), i)
		if sf.Anonymous {
			ft := sf.Type
			if ft.Kind() != reflect.Struct {
				die("%v: embedded non-struct %v", t, ft)
			}
			walk(ft, idx, out)
			continue
		}
		if sf.PkgPath != "" {
			continue
		}
		tag := sf.Tag.Get("xml")
		xname := strings.Split(tag, ",")[0]
		if tag == "-" {
			die("%v.%s: xml tag -", t, sf.Name)
		}
		if xname == "" {
			xname = sf.Name
		}
		if strings.Contains(xname, ">") || strings.Contains(xname, " ") {
			die("%v.%s: unsupported xml tag %q", t, sf.Name, tag)
		}
		if sf.Tag.Get("json") != "" {
			die("%v.%s: json tag not supported", t, sf.Name)
		}
		omit := false
		for _, o := range strings.Split(tag, ",")[1:] {
			omit = omit || o == "omitempty"
		}
		*out = append(*out, cand{sf.Name, xname, omit, idx, sf.Type})
	}
}

// flatten gives the fields of struct t in json.Marshal order: encoding/json's
// dominance rule (shallowest wins, a tie at the same depth drops the name).
func flatten(t reflect.Type) []field {
	var cs []cand
	walk(t, nil, &cs)
	byName := map[string][]cand{}
	for _, c := range cs {
		byName[c.name] = append(byName[c.name], c)
	}
	var keep []cand
	for _, c := range cs {
		group := byName[c.name]
		min := 1 << 30
		for _, g := range group {
			if len(g.index) < min {
				min = len(g.index)
			}
		}
		n := 0
		for _, g := range group {
			if len(g.index) == min {
				n++
			}
		}
		if n == 1 && len(c.index) == min {
			keep = append(keep, c)
		}
	}
	// The XML decoder must see the same dominant fields, each with a
	// distinct element name, or a table of one name per field would lie.
	xseen := map[string]bool{}
	var fs []field
	for _, c := range keep {
		if xseen[c.xml] {
			die("%v: xml name %s used twice", t, c.xml)
		}
		xseen[c.xml] = true
		f := field{json: c.name, xml: c.xml, index: c.index}
		f.kind, f.flags, f.ref = classify(c.typ)
		if c.omit {
			f.flags |= fOmit
		}
		fs = append(fs, f)
	}
	// Cross-check the order with encoding/json itself.
	b, err := json.Marshal(reflect.New(t).Interface())
	if err != nil {
		die("%v: %v", t, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.Token()
	i := 0
	for dec.More() {
		k, _ := dec.Token()
		var skip json.RawMessage
		dec.Decode(&skip)
		if i >= len(fs) || fs[i].json != k.(string) {
			die("%v: field order differs from encoding/json at %v", t, k)
		}
		i++
	}
	if i != len(fs) {
		die("%v: field count differs from encoding/json", t)
	}
	return fs
}

func main() {
	if len(os.Args) != 2 {
		die("usage: vimgen OUTDIR")
	}
	out := os.Args[1]
	if len(registry) < 1000 {
		die("registry not found (%d entries)", len(registry))
	}
	// Roots: every event and fault class, the event array, and every
	// registered type that AnyType (KeyAnyValue.Value, EventEx arguments,
	// ...) may carry: all of them, since any can be named by xsi:type.
	want(eventType)
	want(faultType)
	for _, n := range sortedNames() {
		rt := registry[n]
		if rt.Kind() == reflect.Struct || rt.Kind() == reflect.String {
			want(rt)
		}
	}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		e := typesByGo[t]
		e.fields = flatten(t)
		if t.NumField() > 0 && t.Field(0).Anonymous {
			e.base = t.Field(0).Type
		}
	}
	emit(out)
}

type pool struct {
	b   strings.Builder
	off map[string]int
}

func (p *pool) add(s string) int {
	if o, ok := p.off[s]; ok {
		return o
	}
	o := p.b.Len()
	p.b.WriteString(s)
	p.b.WriteByte(0)
	p.off[s] = o
	return o
}

func cstr(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c == 0 {
			b.WriteString("\\0")
		} else if c == '\\' || c == '"' {
			b.WriteByte('\\')
			b.WriteByte(c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func emit(out string) {
	var ents []*typeEnt
	for _, e := range typesByGo {
		ents = append(ents, e)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	tidx := map[reflect.Type]int{}
	for i, e := range ents {
		if i > 0 && ents[i-1].name == e.name {
			die("duplicate type name %s", e.name)
		}
		tidx[e.t] = i
	}
	var ifl []reflect.Type
	for t := range ifaces {
		ifl = append(ifl, t)
	}
	sort.Slice(ifl, func(i, j int) bool { return ifl[i].Name() < ifl[j].Name() })
	iidx := map[reflect.Type]int{}
	for i, t := range ifl {
		iidx[t] = i
	}
	p := &pool{off: map[string]int{}}
	p.add("")

	var body strings.Builder
	w := func(f string, a ...interface{}) { fmt.Fprintf(&body, f, a...) }
	nf := 0
	w("const struct vim_field vim_fields[] = {\n")
	first := make([]int, len(ents))
	for i, e := range ents {
		first[i] = nf
		if len(e.fields) > 0 {
			w("\t/* %s */\n", e.name)
		}
		for _, f := range e.fields {
			ref := 0
			switch f.kind {
			case kStruct, kEnum:
				ref = tidx[f.ref]
			case kIface:
				ref = iidx[f.ref]
			}
			fl := "0"
			if f.flags&fPtr != 0 {
				fl = "VF_PTR"
			} else if f.flags&fSlice != 0 {
				fl = "VF_SLICE"
			}
			if f.flags&fOmit != 0 {
				if fl == "0" {
					fl = "VF_OMIT"
				} else {
					fl += " | VF_OMIT"
				}
			}
			w("\t{%d, %d, %d, %s, %s},\n", p.add(f.json), p.add(f.xml),
				ref, kindNames[f.kind], fl)
			nf++
		}
	}
	w("};\n\n")
	w("const struct vim_type vim_types[] = {\n")
	for i, e := range ents {
		base := -1
		if e.base != nil {
			if bi, ok := tidx[e.base]; ok {
				base = bi
			}
		}
		w("\t{%d, %d, %d, %d, %s},\t/* %s */\n", p.add(e.name), first[i], len(e.fields), base, e.kind, e.name)
	}
	w("};\n\n")

	// Registry names (including the BaseXxx aliases the decoder uses when
	// an interface-typed element has no xsi:type), sorted for bsearch.
	type alias struct {
		name string
		idx  int
	}
	var al []alias
	for _, n := range sortedNames() {
		if i, ok := tidx[registry[n]]; ok {
			al = append(al, alias{n, i})
		}
	}
	w("const struct vim_name vim_names[] = {\n")
	for _, a := range al {
		w("\t{%d, %d},\t/* %s */\n", p.add(a.name), a.idx, a.name)
	}
	w("};\n\n")

	var members []int
	w("const struct vim_iface vim_ifaces[] = {\n")
	var ifbody strings.Builder
	for _, t := range ifl {
		fb := -1
		if rt, ok := registry[t.Name()]; ok {
			if i, ok := tidx[rt]; ok {
				fb = i
			}
		}
		start := len(members)
		if t != anyType {
			for i, e := range ents {
				if e.t.Kind() == reflect.Struct &&
					(reflect.PtrTo(e.t).Implements(t) || e.t.Implements(t)) {
					members = append(members, i)
				}
			}
		}
		fmt.Fprintf(&ifbody, "\t{%d, %d, %d, %d},\t/* %s */\n", p.add(t.Name()), fb, start, len(members)-start, t.Name())
	}
	w("%s};\n\n", ifbody.String())
	w("const uint16_t vim_iface_members[] = {\n")
	for i, m := range members {
		if i%12 == 0 {
			w("\t")
		}
		w("%d,", m)
		if i%12 == 11 || i == len(members)-1 {
			w("\n")
		} else {
			w(" ")
		}
	}
	w("};\n\n")
	if len(ents) > 65535 || len(members) > 1<<31 {
		die("table too large for uint16 indices")
	}

	var c strings.Builder
	fmt.Fprintf(&c, "/* Generated by src/vc-source/gen/vimgen.go from govmomi's vim25 type registry. Do not edit. */\n")
	fmt.Fprintf(&c, "#include \"vimtypes.h\"\n\n")
	fmt.Fprintf(&c, "const char vim_strings[] =\n")
	s := p.b.String()
	for len(s) > 0 {
		n := 100
		if n > len(s) {
			n = len(s)
		}
		// Keep escapes whole.
		fmt.Fprintf(&c, "\t\"%s\"\n", cstr(s[:n]))
		s = s[n:]
	}
	fmt.Fprintf(&c, ";\n\n%s", body.String())
	fmt.Fprintf(&c, "const size_t vim_ntypes = %d;\nconst size_t vim_nfields = %d;\nconst size_t vim_nnames = %d;\nconst size_t vim_nifaces = %d;\n",
		len(ents), nf, len(al), len(ifl))
	fmt.Fprintf(&c, "const int vim_iface_event = %d;\nconst int vim_iface_fault = %d;\nconst int vim_iface_any = %d;\n",
		iidx[eventType], iidx[faultType], iidx[anyType])
	if err := os.WriteFile(filepath.Join(out, "vimtypes.c"), []byte(c.String()), 0644); err != nil {
		die("%v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "vimtypes.h"), []byte(header), 0644); err != nil {
		die("%v", err)
	}
	fmt.Fprintf(os.Stderr, "vimgen: %d types, %d fields, %d names, %d interfaces, %d members, %d string bytes\n",
		len(ents), nf, len(al), len(ifl), len(members), p.b.Len())
}

const header = `/* Generated by src/vc-source/gen/vimgen.go from govmomi's vim25 type registry. Do not edit. */
#ifndef VIMTYPES_H
#define VIMTYPES_H

#include <stddef.h>
#include <stdint.h>

/* What a field holds; how it decodes from XML and prints as JSON. */
enum vim_kind {
	VK_STRING = 1, VK_BOOL, VK_INT8, VK_INT16, VK_INT32, VK_INT64,
	VK_UINT8, VK_UINT16, VK_UINT32, VK_UINT64, VK_FLOAT32, VK_FLOAT64,
	VK_TIME,	/* time.Time: xsd:dateTime, JSON RFC 3339 nano */
	VK_BYTES,	/* []byte: the element text as is, JSON base64 */
	VK_MOR,		/* ManagedObjectReference: {"Type","Value"} */
	VK_STRUCT,	/* struct vim_types[ref] */
	VK_IFACE,	/* interface vim_ifaces[ref]: concrete type from xsi:type */
	VK_ENUM		/* string enum vim_types[ref] */
};

#define VF_PTR		1	/* *T: absent is null */
#define VF_SLICE	2	/* []T: absent is null, one item per element */
#define VF_OMIT		4	/* xml ",omitempty": xml.Marshal leaves zero values out */

enum vim_type_kind { TK_STRUCT = 1, TK_ENUM, TK_MOR };

struct vim_field {
	uint32_t json;		/* Go field name (vim_strings offset) */
	uint32_t xml;		/* XML element name (vim_strings offset) */
	uint16_t ref;		/* vim_types or vim_ifaces index */
	uint8_t kind;		/* enum vim_kind */
	uint8_t flags;		/* VF_* */
};

struct vim_type {
	uint32_t name;		/* Go type name */
	uint32_t first;		/* first field in vim_fields */
	uint16_t nfields;	/* fields flattened over embedded structs */
	int16_t base;		/* embedded base type, -1 if none */
	uint8_t kind;		/* enum vim_type_kind */
};

/* A registry name (sorted by name): type names and BaseXxx aliases. */
struct vim_name {
	uint32_t name;
	uint16_t type;
};

struct vim_iface {
	uint32_t name;		/* Go interface name: AnyType, BaseEvent, ... */
	int32_t fallback;	/* type used when xsi:type is absent, or -1 */
	uint32_t first;		/* implementing types in vim_iface_members */
	uint32_t n;		/* 0 for AnyType: anything goes */
};

extern const char vim_strings[];
extern const struct vim_field vim_fields[];
extern const struct vim_type vim_types[];	/* sorted by name */
extern const struct vim_name vim_names[];
extern const struct vim_iface vim_ifaces[];
extern const uint16_t vim_iface_members[];	/* ascending per interface */
extern const size_t vim_ntypes, vim_nfields, vim_nnames, vim_nifaces;
extern const int vim_iface_event, vim_iface_fault, vim_iface_any;

#define VIM_STR(off) (vim_strings + (off))

#endif
`
