package dlx

import "testing"

func TestTrimToRoot(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"/":                                  "",
		"/dlx/v1":                            "",
		"/dlx/v1/":                           "",
		"/dlx/v1/token/ABCD":                 "",
		"/dlx":                               "",
		"/c":                                 "",
		"/bildbote/dlx/v1":                   "/bildbote",
		"/bildbote/c":                        "/bildbote",
		"/bildbote/":                         "/bildbote",
		"https://portal.example/dlx/v1":      "https://portal.example",
		"https://portal.example/x/dlx/v2/":   "https://portal.example/x",
		"https://portal.example/clinic":      "https://portal.example/clinic",
		"https://portal.example/dlxfiles/v1": "https://portal.example/dlxfiles/v1",
	} {
		if got := TrimToRoot(in); got != want {
			t.Errorf("TrimToRoot(%q) = %q, want %q", in, got, want)
		}
	}
}
