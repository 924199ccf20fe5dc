package ui

import "github.com/bildbote/bildbote/internal/i18n"

func hasKey(l i18n.Lang, key string) bool { return i18n.Has(l, key) }
