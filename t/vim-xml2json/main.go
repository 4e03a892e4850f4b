// vim-xml2json: the reference for vc-source's event mapper. Reads a SOAP
// response (or a bare event element) on stdin, decodes the events with
// govmomi's own vim25/xml decoder and type registry, exactly as govmomi's
// soap client does (xml.NewDecoder with TypeFunc), and prints json.Marshal
// of each event, one per line.
//
// Events are found as vc-source finds them: the returnval elements of a
// *EventsResponse (decoded as types.ReadNextEventsResponse), the Event
// elements of an xsi:type="ArrayOfEvent" value (types.ArrayOfEvent), or the
// root element itself when neither occurs (decoded as types.BaseEvent).
//
// With -xml it prints what Tanzu's VSphereSource sends as its
// application/xml payload instead: the standard library's encoding/xml
// Marshal of the decoded event (cloudevents sdk-go's xml codec).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	stdxml "encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

var asXML bool

func xsiType(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "type" && (a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" || a.Name.Space == "xsi") {
			return a.Value
		}
	}
	return ""
}

func newDecoder(b []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.TypeFunc = types.TypeFunc()
	return d
}

func main() {
	repeat := flag.Int("repeat", 1, "decode and marshal this many times, print once, report events/s (benchmark)")
	flag.BoolVar(&asXML, "xml", false, "print encoding/xml.Marshal of each event (VSphereSource's application/xml)")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
		os.Exit(74)
	}
	start := time.Now()
	var lines [][]byte
	for i := 0; i < *repeat; i++ {
		lines = run(in)
	}
	if *repeat > 1 {
		d := time.Since(start)
		n := len(lines) * *repeat
		fmt.Fprintf(os.Stderr, "vim-xml2json: %d events in %d ms: %.0f events/s (decode + marshal)\n",
			n, d.Milliseconds(), float64(n)/d.Seconds())
	}
	out := bufio.NewWriter(os.Stdout)
	for _, b := range lines {
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := out.Flush(); err != nil {
		os.Exit(74)
	}
}

func run(in []byte) [][]byte {
	var events []types.BaseEvent
	d := newDecoder(in)
	found := false
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		t := strings.TrimPrefix(xsiType(se), "vim25:")
		switch {
		case strings.HasSuffix(se.Name.Local, "EventsResponse"):
			var r types.ReadNextEventsResponse
			if err := d.DecodeElement(&r, &se); err != nil {
				fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
				os.Exit(65)
			}
			events = append(events, r.Returnval...)
			found = true
		case t == "ArrayOfEvent":
			var a types.ArrayOfEvent
			if err := d.DecodeElement(&a, &se); err != nil {
				fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
				os.Exit(65)
			}
			events = append(events, a.Event...)
			found = true
		}
	}
	if !found && root != "" && root != "Envelope" {
		var w struct {
			E types.BaseEvent `xml:",any,typeattr"`
		}
		// Wrap the bare element so the decoder treats it as an
		// interface-typed field, as it does a returnval.
		wrapped := append(append([]byte("<w>"), stripProlog(in)...), "</w>"...)
		if err := newDecoder(wrapped).Decode(&w); err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		events = append(events, w.E)
	}
	var lines [][]byte
	for _, e := range events {
		marshal := json.Marshal
		if asXML {
			marshal = stdxml.Marshal
		}
		b, err := marshal(e)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vim-xml2json:", err)
			os.Exit(65)
		}
		lines = append(lines, b)
	}
	return lines
}

func stripProlog(b []byte) []byte {
	s := bytes.TrimSpace(b)
	if bytes.HasPrefix(s, []byte("<?xml")) {
		if i := bytes.Index(s, []byte("?>")); i >= 0 {
			s = s[i+2:]
		}
	}
	return s
}
