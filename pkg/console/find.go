package console

import (
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/store"
)

// Finding (console.md "Finding"): people are searched accent- and
// case-insensitively by the words of their name, username and email ("jorge
// patino" finds "Jorge Patiño", "Ana" finds "Ana López" but not
// "user_diana"), by the digits of their phone and by the start of their id;
// deliveries and quotes by their people, their addresses and a short id (the
// first characters of the UUID).
//
// Folding is done the same way in Go (the query) and in SQL (the rows), from
// one table, so both dialects agree: ASCII letters lower-cased, the accented
// letters of Spanish (and their neighbours) mapped to their base letter, and
// word separators (_ . @ - + /) turned into spaces. Nothing else changes: the
// meaning of a search does not depend on the database's locale. No index
// serves a word search; the console's lists are scanned (docs/scaling.md).

// foldPairs maps each folded rune to what it becomes.
var foldPairs = func() [][2]string {
	var p [][2]string
	add := func(from, to string) {
		for _, r := range from {
			p = append(p, [2]string{string(r), to})
		}
	}
	add("áàâäãÁÀÂÄÃ", "a")
	add("éèêëÉÈÊË", "e")
	add("íìîïÍÌÎÏ", "i")
	add("óòôöõÓÒÔÖÕ", "o")
	add("úùûüÚÙÛÜ", "u")
	add("ñÑ", "n")
	add("çÇ", "c")
	add("_.@-+/", " ")
	return p
}()

var folder = func() *strings.Replacer {
	var args []string
	for _, p := range foldPairs {
		args = append(args, p[0], p[1])
	}
	return strings.NewReplacer(args...)
}()

// Fold is what a search compares: ASCII lower-cased, accents removed,
// separators as spaces.
func Fold(s string) string {
	b := []byte(folder.Replace(s))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// foldSQL is Fold as an SQL expression over expr (a text expression).
func (s *Service) foldSQL(expr string) string {
	if s.Store.Dialect == store.Postgres {
		// translate() maps rune by rune; ASCII upper case is in the table
		// (LOWER would follow the database's locale).
		var from, to strings.Builder
		for c := 'A'; c <= 'Z'; c++ {
			from.WriteRune(c)
			to.WriteRune(c + 'a' - 'A')
		}
		for _, p := range foldPairs {
			from.WriteString(p[0])
			to.WriteString(p[1])
		}
		return "translate(" + expr + ", '" + from.String() + "', '" + to.String() + "')"
	}
	// SQLite's LOWER folds ASCII only: exactly Fold's rule for it.
	out := "LOWER(" + expr + ")"
	for _, p := range foldPairs {
		out = "replace(" + out + ", '" + p[0] + "', '" + p[1] + "')"
	}
	return out
}

// words are the folded search words of q.
func words(q string) []string { return strings.Fields(Fold(q)) }

// wordsMatch is "every word of q begins a word of the haystack" (cols joined
// by spaces, folded); empty when q has no words.
func (s *Service) wordsMatch(q string, cols ...string) (string, []any) {
	ws := words(q)
	if len(ws) == 0 {
		return "", nil
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "COALESCE(" + c + ", '')"
	}
	hay := "(' ' || " + s.foldSQL(strings.Join(parts, " || ' ' || ")) + ")"
	conds := make([]string, len(ws))
	args := make([]any, len(ws))
	for i, w := range ws {
		conds[i] = hay + ` LIKE ? ESCAPE '\'`
		args[i] = "% " + likeEscaper.Replace(w) + "%"
	}
	return "(" + strings.Join(conds, " AND ") + ")", args
}

var (
	phoneChars = regexp.MustCompile(`^[0-9 +()\-.]+$`)
	shortID    = regexp.MustCompile(`^[0-9a-fA-F][0-9a-fA-F-]{3,35}$`)
)

// phoneDigits is the digits of q when q reads as (part of) a phone number
// (at least 3 digits, nothing but phone punctuation besides).
func phoneDigits(q string) string {
	if !phoneChars.MatchString(q) {
		return ""
	}
	var b strings.Builder
	for _, r := range q {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() < 3 {
		return ""
	}
	return b.String()
}

// userMatch is the condition on a users row for q: its id begins with q,
// every word of q begins a word of its name, username or email, or q's digits
// are in its phone. Empty when q is blank.
func (s *Service) userMatch(q string) (string, []any) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", nil
	}
	conds := []string{`LOWER(userid) LIKE ? ESCAPE '\'`}
	args := []any{strings.ToLower(likeEscaper.Replace(q)) + "%"}
	if w, wargs := s.wordsMatch(q, "first_name", "last_name", "username", "email"); w != "" {
		conds = append(conds, w)
		args = append(args, wargs...)
	}
	if d := phoneDigits(q); d != "" {
		digits := "COALESCE(phone, '')"
		for _, sep := range []string{" ", "-", "+", "(", ")", "."} {
			digits = "replace(" + digits + ", '" + sep + "', '')"
		}
		conds = append(conds, digits+" LIKE ?")
		args = append(args, "%"+d+"%")
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// idPrefix is the condition "the UUID column col begins with q" when q looks
// like the start of a UUID (4 to 36 hex digits and dashes); empty otherwise.
func (s *Service) idPrefix(col, q string) (string, []any) {
	q = strings.TrimSpace(q)
	if !shortID.MatchString(q) {
		return "", nil
	}
	return "CAST(" + col + ` AS TEXT) LIKE ?`, []any{strings.ToLower(q) + "%"}
}

// anyOf joins the non-empty conditions with OR and adds them to q (nothing
// when every one is empty: callers add at least one for a non-blank search).
func anyOf(q *gorm.DB, conds []string, args [][]any) *gorm.DB {
	var cs []string
	var as []any
	for i, c := range conds {
		if c != "" {
			cs = append(cs, c)
			as = append(as, args[i]...)
		}
	}
	if len(cs) == 0 {
		return q
	}
	return q.Where("("+strings.Join(cs, " OR ")+")", as...)
}

// peopleMatch adds "text finds the row by one of its people (personCols:
// user id columns), a short id (idCols: UUID columns), or the words of its
// addresses".
func (s *Service) peopleMatch(q *gorm.DB, text string, idCols, personCols []string, addressCols ...string) *gorm.DB {
	text = strings.TrimSpace(text)
	if text == "" {
		return q
	}
	var conds []string
	var args [][]any
	um, uargs := s.userMatch(text)
	for _, c := range personCols {
		conds = append(conds, c+" IN (SELECT userid FROM users WHERE "+um+")")
		args = append(args, uargs)
	}
	for _, col := range idCols {
		c, a := s.idPrefix(col, text)
		conds, args = append(conds, c), append(args, a)
	}
	if len(addressCols) > 0 {
		c, a := s.wordsMatch(text, addressCols...)
		conds, args = append(conds, c), append(args, a)
	}
	return anyOf(q, conds, args)
}

// Range is a [From, To) interval of instants; nil ends are open.
type Range struct{ From, To *time.Time }

func (r Range) apply(q *gorm.DB, col string) *gorm.DB {
	// UTC: SQLite compares the stored text.
	if r.From != nil {
		q = q.Where(col+" >= ?", r.From.UTC())
	}
	if r.To != nil {
		q = q.Where(col+" < ?", r.To.UTC())
	}
	return q
}

// Sort is a list's order: a key of the list's sortable columns and a
// direction. An unknown key is the list's default order.
type Sort struct {
	Key string
	Asc bool
}

// order applies s with cols (key → SQL expression); def is the default
// (key, ascending). The row id breaks ties so pages do not overlap.
func order(q *gorm.DB, s Sort, cols map[string]string, def Sort, idCol string) *gorm.DB {
	expr, ok := cols[s.Key]
	if !ok {
		s = def
		expr = cols[def.Key]
	}
	dir := " DESC"
	if s.Asc {
		dir = " ASC"
	}
	return q.Order(expr + dir).Order(idCol + dir)
}

// money is a price column as a sortable number on both dialects (SQLite
// keeps decimals as text).
func (s *Service) money(col string) string {
	if s.Store.Dialect == store.SQLite {
		return "CAST(" + col + " AS REAL)"
	}
	return col
}
