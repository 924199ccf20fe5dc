package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// schema is one object schema of dicomLinkExchange.yaml
// (fschili/DicomLinkExchange, commit 0177981beeea26b03439671494f7363d1e689397,
// components/schemas), transcribed: property → type, and the required
// properties. Types: "string", "integer", "array:<schema>", "enum:A|B".
type schema struct {
	required []string
	props    map[string]string
}

var dlxSchemas = map[string]schema{
	"apiInfo": {
		required: []string{"dlxVersion", "apiBasePath"},
		props:    map[string]string{"dlxVersion": "string", "vendorInformation": "string", "apiBasePath": "string"},
	},
	"tfaQuestions": {
		props: map[string]string{"apiInfo": "array:apiInfo", "tfaQuestion": "array:tfaQuestion"},
	},
	"tfaQuestion": {
		props: map[string]string{
			"question": "array:question", "questionId": "string",
			"questionType": "enum:PAT_BIRTH_DATE|STUDY_DATE|PASSWORD|CUSTOM", "answerFormat": "enum:DATE|STRING",
		},
	},
	"question": {
		required: []string{"text"},
		props:    map[string]string{"text": "string", "language": "string"},
	},
	"dataItems": {
		props: map[string]string{"dataItem": "array:dataItem"},
	},
	"dataItem": {
		required: []string{"id", "mimeType", "description"},
		props: map[string]string{
			"id": "string", "mimeType": "string", "description": "string", "studyInstanceUID": "string",
			"date": "string", "modalities": "string", "patientsName": "string", "patientsBirthdate": "string",
			"patientsSex": "string", "fileCount": "integer",
		},
	},
	"comebackLaterResponse": {
		props: map[string]string{"timeOutInSeconds": "integer"},
	},
}

// checkShape fails t when v does not match the named schema.
func checkShape(t *testing.T, where, name string, v any) {
	t.Helper()
	for _, e := range shapeErrors(where, name, v) {
		t.Error(e)
	}
}

// shapeErrors validates v against the named schema: required fields
// present, no field the spec does not name, types and enums right.
func shapeErrors(where, name string, v any) []string {
	sc, ok := dlxSchemas[name]
	if !ok {
		return []string{"no schema " + name}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %s must be an object, got %T", where, name, v)}
	}
	var errs []string
	for _, r := range sc.required {
		if _, ok := obj[r]; !ok {
			errs = append(errs, fmt.Sprintf("%s: %s lacks required %q", where, name, r))
		}
	}
	for k, val := range obj {
		typ, ok := sc.props[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %s has %q, which the spec does not define", where, name, k))
			continue
		}
		errs = append(errs, typeErrors(where+"."+k, typ, val)...)
	}
	return errs
}

func typeErrors(where, typ string, val any) []string {
	switch {
	case typ == "string":
		if _, ok := val.(string); !ok {
			return []string{fmt.Sprintf("%s: want string, got %T", where, val)}
		}
	case typ == "integer":
		f, ok := val.(float64)
		if !ok || f != float64(int64(f)) || f < 0 {
			return []string{fmt.Sprintf("%s: want a non-negative integer, got %v", where, val)}
		}
	case strings.HasPrefix(typ, "enum:"):
		s, _ := val.(string)
		if !slices.Contains(strings.Split(typ[5:], "|"), s) {
			return []string{fmt.Sprintf("%s: %v not in %s", where, val, typ)}
		}
	case strings.HasPrefix(typ, "array:"):
		arr, ok := val.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want array, got %T", where, val)}
		}
		var errs []string
		for i, el := range arr {
			errs = append(errs, shapeErrors(fmt.Sprintf("%s[%d]", where, i), typ[6:], el)...)
		}
		return errs
	default:
		return []string{"unknown type " + typ}
	}
	return nil
}

// TestShapeCheckerCatchesMistakes: the checker itself must fail on the
// mistakes it is there to find.
func TestShapeCheckerCatchesMistakes(t *testing.T) {
	bad := []struct {
		schema, json string
	}{
		{"apiInfo", `{"dlxVersion":"v1"}`},                                      // apiBasePath missing
		{"apiInfo", `{"dlxVersion":"v1","apiBasePath":"x","version":"1"}`},      // unknown field
		{"dataItems", `{"dataItem":[{"id":"1","mimeType":"application/pdf"}]}`}, // description missing
		{"dataItems", `{"dataItem":[{"id":"1","mimeType":"a","description":"d","fileCount":"3"}]}`},
		{"tfaQuestions", `{"tfaQuestion":[{"questionType":"BIRTHDAY"}]}`},
		{"tfaQuestions", `{"tfaQuestion":[{"question":[{"language":"de"}]}]}`}, // text missing
		{"comebackLaterResponse", `{"timeOutInSeconds":-1}`},
	}
	for _, b := range bad {
		var v any
		if err := json.Unmarshal([]byte(b.json), &v); err != nil {
			t.Fatal(err)
		}
		if len(shapeErrors("test", b.schema, v)) == 0 {
			t.Errorf("%s %s passed", b.schema, b.json)
		}
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return v
}

var dlxDate = regexp.MustCompile(`^\d{8}$`)

// TestDLXResponseShapes checks every JSON answer of the DLX API against
// the spec's schemas, and the content types of the binary answers.
func TestDLXResponseShapes(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, patient := p.issueCDCode()
	json := func(resp *http.Response) {
		t.Helper()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", resp.Request.URL.Path, ct)
		}
	}

	resp, body := p.do("GET", "/dlx/v1/api_info", nil, nil)
	json(resp)
	checkShape(t, "api_info", "apiInfo", decodeAny(t, body))
	info := decodeAny(t, body).(map[string]any)
	if info["dlxVersion"] != "v1" || !strings.HasSuffix(info["apiBasePath"].(string), "/dlx/v1") {
		t.Errorf("api_info: %s", body)
	}

	for _, path := range []string{"/dlx/v1/token/" + code, "/dlx/v1/token/UNKNOWN", "/c?token=" + code} {
		resp, body = p.do("GET", path, hdr(DLXHeader, ""), nil)
		json(resp)
		v := decodeAny(t, body)
		checkShape(t, path, "tfaQuestions", v)
		qs := v.(map[string]any)["tfaQuestion"].([]any)
		if len(qs) == 0 || len(v.(map[string]any)["apiInfo"].([]any)) != 1 {
			t.Errorf("%s: %s", path, body)
		}
	}

	resp, body = p.do("POST", "/dlx/v1/tokentfa/"+code, hdr("Content-Type", "application/json"), answers("1", patient.BirthDate))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwt" || strings.Count(string(body), ".") != 2 {
		t.Fatalf("tokentfa: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	bearer := hdr("Authorization", "Bearer "+string(body))

	resp, body = p.do("GET", "/dlx/v1/list", bearer, nil)
	json(resp)
	v := decodeAny(t, body)
	checkShape(t, "list", "dataItems", v)
	for _, it := range v.(map[string]any)["dataItem"].([]any) {
		item := it.(map[string]any)
		for _, k := range []string{"date", "patientsBirthdate"} {
			if d, ok := item[k]; ok && !dlxDate.MatchString(d.(string)) {
				t.Errorf("%s %q is not YYYYMMDD", k, d)
			}
		}
		id := item["id"].(string)
		resp, body := p.do("GET", "/dlx/v1/download/"+id, bearer, nil)
		switch item["mimeType"] {
		case "application/zip":
			if resp.StatusCode != 503 {
				t.Fatalf("first study download: %d", resp.StatusCode)
			}
			json(resp)
			checkShape(t, "download 503", "comebackLaterResponse", decodeAny(t, body))
			_, resp = p.fetchZip("/dlx/v1/download/"+id, bearer)
			if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
				t.Errorf("study content type %q", ct)
			}
		case "application/pdf":
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
				t.Errorf("pdf: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		default:
			t.Errorf("mimeType %v", item["mimeType"])
		}
	}
	resp, body = p.do("GET", "/dlx/v1/downloadall", bearer, nil)
	if resp.StatusCode == 503 {
		checkShape(t, "downloadall 503", "comebackLaterResponse", decodeAny(t, body))
		_, resp = p.fetchZip("/dlx/v1/downloadall", bearer)
	}
	if resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("downloadall content type %q", resp.Header.Get("Content-Type"))
	}

}
