// Package coolifyspec is test support for the contract tests of package
// coolify (the client) and coolifysim (the simulator): it loads Coolify's
// OpenAPI document (pkg/platform/coolify/testdata/coolify-openapi.json, the
// one copy, at the path each test gives) with
// Deviations, the one table of the places where Coolify — and so our client
// and the simulator — knowingly departs from that document, patched in.
//
// The table only states the deviations; the two tests prove them. Each
// entry says which test must (ProvedBy), and that test fails when it has no
// proof for the entry, or when the document accepts the proof without the
// entry's patch: a deviation Coolify fixes in its document must leave the
// table. Anything not in the table still fails validation.
//
// Nothing in the product imports this package: it lives in the test wing
// (hack/devenv) so that both packages' tests can share it.
package coolifyspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Deviation is one place where Coolify does not do what its OpenAPI
// document says, or does more.
type Deviation struct {
	ID string
	// Ops are the operations it concerns, "METHOD /path" as the document
	// spells them, or just Everywhere.
	Ops []string
	// Where says what in those operations: the request, or a response
	// status, and the field.
	Where string
	// Why is what Coolify really does and where coolify-api.md says so.
	Why      string
	ProvedBy Proof
	// patch teaches the document what Coolify does; ops are the operations
	// named in Ops (none for Everywhere). It may panic on a document not
	// shaped as expected: Load turns that into an error.
	patch func(doc map[string]any, ops []map[string]any) error
}

// Everywhere is Deviation.Ops for a deviation in every operation of the
// document; it stands alone.
const Everywhere = "*"

// Proof names the contract tests that must show a deviation is still
// needed.
type Proof uint8

const (
	// ByClient is contract_test.go of package coolify, with the requests
	// the client sends and the answers it is tested with.
	ByClient Proof = 1 << iota
	// BySim is openapi_test.go of coolifysim, with answers the simulator
	// really gives.
	BySim
)

// Concerns reports whether op ("METHOD /path") is one of d's operations.
func (d Deviation) Concerns(op string) bool {
	return slices.Contains(d.Ops, op) || slices.Equal(d.Ops, []string{Everywhere})
}

// Find returns the deviation with the given ID.
func Find(id string) (Deviation, bool) {
	i := slices.IndexFunc(Deviations, func(d Deviation) bool { return d.ID == id })
	if i < 0 {
		return Deviation{}, false
	}
	return Deviations[i], true
}

// Load reads Coolify's OpenAPI document from file and patches in every
// deviation but those whose IDs are in skip, in table order, then validates
// the result. Each call returns a new document.
func Load(file string, skip ...string) (*openapi3.T, error) {
	for _, id := range skip {
		if _, ok := Find(id); !ok {
			return nil, fmt.Errorf("coolifyspec: no deviation %q to skip", id)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("coolifyspec: %s: %w", file, err)
	}
	for _, d := range Deviations {
		if slices.Contains(skip, d.ID) {
			continue
		}
		if err := d.apply(raw); err != nil {
			return nil, fmt.Errorf("coolifyspec: deviation %s: %w", d.ID, err)
		}
	}
	if b, err = json.Marshal(raw); err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("coolifyspec: the document patched with all deviations but %q: %w", skip, err)
	}
	return doc, nil
}

func (d Deviation) apply(doc map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the document is not shaped as the patch expects: %v", r)
		}
	}()
	var ops []map[string]any
	for _, key := range d.Ops {
		if key == Everywhere {
			continue
		}
		op, err := operation(doc, key)
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	return d.patch(doc, ops)
}

// operation is the operation key ("METHOD /path") of the raw document.
func operation(doc map[string]any, key string) (map[string]any, error) {
	method, path, _ := strings.Cut(key, " ")
	item, _ := doc["paths"].(map[string]any)[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		return nil, fmt.Errorf("the document has no operation %s", key)
	}
	return op, nil
}

// Patches of the document as decoded JSON.

// declare adds a response for status to each operation of the deviation.
// An operation that declares status already is a mistake in the table.
func declare(status string, r map[string]any) func(map[string]any, []map[string]any) error {
	return func(_ map[string]any, ops []map[string]any) error {
		for _, op := range ops {
			responses := op["responses"].(map[string]any)
			if _, ok := responses[status]; ok {
				return fmt.Errorf("%s is declared already (%q): not a deviation", status, op["operationId"])
			}
			responses[status] = r
		}
		return nil
	}
}

// declareEverywhere adds a response for status to every operation of the
// document that lacks one.
func declareEverywhere(status string, r map[string]any) func(map[string]any, []map[string]any) error {
	return func(doc map[string]any, _ []map[string]any) error {
		n := 0
		for _, item := range doc["paths"].(map[string]any) {
			for method, op := range item.(map[string]any) {
				if !isHTTPMethod(method) {
					continue
				}
				responses := op.(map[string]any)["responses"].(map[string]any)
				if _, ok := responses[status]; !ok {
					responses[status] = r
					n++
				}
			}
		}
		if n == 0 {
			return errors.New(status + " is declared everywhere already: not a deviation")
		}
		return nil
	}
}

func isHTTPMethod(m string) bool {
	switch m {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

// allowNull lets the named properties of a component schema be null.
func allowNull(schema string, props ...string) func(map[string]any, []map[string]any) error {
	return func(doc map[string]any, _ []map[string]any) error {
		p := schemaProps(doc, schema)
		for _, name := range props {
			addNull(p[name].(map[string]any))
		}
		return nil
	}
}

// addNull adds null to a schema's type (and enum, if it has one).
func addNull(s map[string]any) {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []any{t, "null"}
	case []any:
		if !slices.Contains(t, any("null")) {
			s["type"] = append(t, "null")
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, nil) {
		s["enum"] = append(e, nil)
	}
}

// walkJSON calls fn for every object in v.
func walkJSON(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walkJSON(c, fn)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, fn)
		}
	}
}

func schemaProps(doc map[string]any, schema string) map[string]any {
	return doc["components"].(map[string]any)["schemas"].(map[string]any)[schema].(map[string]any)["properties"].(map[string]any)
}

func componentResponses(doc map[string]any) map[string]any {
	return doc["components"].(map[string]any)["responses"].(map[string]any)
}

func ref(to string) map[string]any { return map[string]any{"$ref": to} }

func messageSchema() map[string]any {
	return map[string]any{"type": "object", "required": []any{"message"},
		"properties": map[string]any{"message": map[string]any{"type": "string"}}}
}

func jsonResponse(desc string, schema map[string]any) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
}
