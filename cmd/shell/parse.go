package shell

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// The syntax tree. PowerShell's grammar has two modes (about_Parsing): argument mode for the
// words after a command name, expression mode everywhere else; the parser switches between
// them as PowerShell's does, reading runes directly rather than a token stream.

type block struct{ stmts []stmt }

type stmt interface{}

type pipeline struct {
	elems []any // *command, or an expr as first element
	ext   *extent
}

type assignStmt struct {
	target expr
	op     string // = += -=
	value  stmt
}

type ifStmt struct {
	conds  []*pipeline
	bodies []*block
	els    *block
}

type foreachStmt struct {
	variable string
	coll     *pipeline
	body     *block
}

type whileStmt struct {
	cond *pipeline
	body *block
}

type tryStmt struct {
	body    *block
	catches []catchClause
	finally *block
}

type catchClause struct {
	types []string // empty: every error
	body  *block
}

type functionStmt struct {
	name   string
	params []funcParam
	body   *block
}

type funcParam struct {
	name      string
	typ       string
	mandatory bool
	def       expr
}

type flowStmt struct {
	kind  string // break continue exit return throw
	value *pipeline
	ext   *extent
}

type command struct {
	name     string
	nameExpr expr // a computed name (& "…"), evaluated when the pipeline starts
	nameExt  *extent
	args     []cmdArg
	ext      *extent
}

type cmdArg struct {
	param    string // without the dash; "" for a positional argument
	colon    bool   // -Name:value
	value    expr   // nil for a bare -Switch
	ext      *extent
	valueExt *extent
	text     string // the argument's source text, for error messages
	splat    string // @name: the variable whose hashtable (named) or array (positional) are the arguments
}

type expr interface{}

type literal struct{ v any }
type varRef struct{ name string }
type expandString struct{ parts []any } // string or expr
type memberExpr struct {
	obj    expr
	name   string
	call   bool
	args   []expr
	static bool
}
type indexExpr struct{ obj, idx expr }
type arrayExpr struct{ elems []expr }
type subExpr struct {
	body  *block
	array bool // @( )
}
type parenExpr struct{ value stmt }
type hashExpr struct {
	keys []expr
	vals []stmt
}
type scriptExpr struct{ sb *ScriptBlock }
type binExpr struct {
	op   string
	l, r expr
}
type unaryExpr struct {
	op string
	x  expr
}
type castExpr struct {
	typ string
	x   expr
}
type typeExpr struct{ typ string }

type parser struct {
	src []rune
	pos int
}

// parseScript parses a whole script.
func parseScript(src string) (*block, error) {
	p := &parser{src: []rune(src)}
	b, err := p.statements(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.unexpected()
	}
	return b, nil
}

func (p *parser) fail(start, end int, id, msg string) *ParseError {
	x := &extent{src: p.src, start: start, end: end}
	line, col, _, _ := x.lineCol()
	return &ParseError{Message: msg, ID: id, Line: line, Column: col, ext: x}
}

func (p *parser) unexpected() *ParseError {
	start := p.pos
	end := start + 1
	switch c := p.src[start]; {
	case isSQ(c) || isDQ(c):
		for end < len(p.src) && p.src[end] != c {
			end++
		}
		end = min(end+1, len(p.src))
	case isWordRune(c):
		for end < len(p.src) && isWordRune(p.src[end]) {
			end++
		}
	}
	tok := string(p.src[start:min(end, len(p.src))])
	return p.fail(start, end, "UnexpectedToken", fmt.Sprintf("Unexpected token '%s' in expression or statement.", tok))
}

func (p *parser) peek() rune {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) peekAt(n int) rune {
	if p.pos+n < len(p.src) {
		return p.src[p.pos+n]
	}
	return 0
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

// skip passes blanks, comments and backtick line continuations; with newlines it passes line
// ends too.
func (p *parser) skip(newlines bool) error {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\f' || c == '\u00a0':
			p.pos++
		case c == '`' && (p.peekAt(1) == '\n' || p.peekAt(1) == '\r'):
			p.pos += 2
			if p.peekAt(-1) == '\r' && p.peek() == '\n' {
				p.pos++
			}
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == '<' && p.peekAt(1) == '#':
			start := p.pos
			end := strings.Index(string(p.src[p.pos+2:]), "#>")
			if end < 0 {
				return p.fail(start, start+2, "MissingEndOfBlockComment", "The '<' operator is reserved for future use.")
			}
			p.pos += 2 + len([]rune(string(p.src[p.pos+2:])[:end])) + 2
		case newlines && (c == '\n' || c == '\r'):
			p.pos++
		default:
			return nil
		}
	}
	return nil
}

// statements parses until EOF or the closing rune (not consumed).
func (p *parser) statements(closer rune) (*block, error) {
	b := &block{}
	for {
		if err := p.skip(true); err != nil {
			return nil, err
		}
		for p.peek() == ';' {
			p.pos++
			if err := p.skip(true); err != nil {
				return nil, err
			}
		}
		if p.eof() || (closer != 0 && p.peek() == closer) {
			return b, nil
		}
		if closer == 0 && strings.ContainsRune(")}", p.peek()) {
			return nil, p.unexpected()
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		b.stmts = append(b.stmts, s)
		if err := p.skip(false); err != nil {
			return nil, err
		}
		c := p.peek()
		if c == ';' || c == '\n' || c == '\r' {
			p.pos++
			continue
		}
		if p.eof() || (closer != 0 && c == closer) {
			return b, nil
		}
		return nil, p.unexpected()
	}
}

// keyword returns the lower-case word at the cursor if it is one of the given keywords.
func (p *parser) keyword(words ...string) string {
	end := p.pos
	for end < len(p.src) && (unicode.IsLetter(p.src[end])) {
		end++
	}
	if end == p.pos {
		return ""
	}
	if end < len(p.src) && (isWordRune(p.src[end]) && p.src[end] != '(') {
		return ""
	}
	w := strings.ToLower(string(p.src[p.pos:end]))
	for _, k := range words {
		if w == k {
			p.pos = end
			return w
		}
	}
	return ""
}

func (p *parser) statement() (stmt, error) {
	start := p.pos
	switch kw := p.keyword("if", "foreach", "while", "break", "continue", "exit", "return", "throw", "try", "function", "filter"); kw {
	case "if":
		return p.ifStatement()
	case "try":
		return p.tryStatement()
	case "function", "filter":
		return p.functionStatement()
	case "foreach":
		return p.foreachStatement(start)
	case "while":
		cond, err := p.condition("while")
		if err != nil {
			return nil, err
		}
		body, err := p.blockBody()
		if err != nil {
			return nil, err
		}
		return &whileStmt{cond: cond, body: body}, nil
	case "break", "continue", "exit", "return", "throw":
		f := &flowStmt{kind: kw}
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if !p.eof() && !strings.ContainsRune(";\n\r})", p.peek()) {
			v, err := p.pipeline()
			if err != nil {
				return nil, err
			}
			f.value = v
		}
		f.ext = &extent{src: p.src, start: start, end: p.pos}
		return f, nil
	}
	pl, err := p.pipeline()
	if err != nil {
		return nil, err
	}
	// assignment: a lone expression followed by = += -=
	if len(pl.elems) == 1 {
		if e, ok := pl.elems[0].(expr); ok && isAssignable(e) {
			if err := p.skip(false); err != nil {
				return nil, err
			}
			for _, op := range []string{"+=", "-=", "="} {
				if p.hasPrefix(op) && !(op == "=" && p.peekAt(1) == '=') {
					p.pos += len(op)
					if err := p.skip(true); err != nil {
						return nil, err
					}
					if p.eof() || strings.ContainsRune(";)}", p.peek()) {
						return nil, p.fail(p.pos, p.pos+1, "ExpectedValueExpression",
							fmt.Sprintf("You must provide a value expression following the '%s' operator.", op))
					}
					v, err := p.statement()
					if err != nil {
						return nil, err
					}
					return &assignStmt{target: e, op: op, value: v}, nil
				}
			}
		}
	}
	return pl, nil
}

func isAssignable(e expr) bool {
	switch x := e.(type) {
	case *varRef:
		return true
	case *memberExpr:
		return !x.call
	case *indexExpr:
		return true
	}
	return false
}

func (p *parser) hasPrefix(s string) bool {
	r := []rune(s)
	if p.pos+len(r) > len(p.src) {
		return false
	}
	return string(p.src[p.pos:p.pos+len(r)]) == s
}

func (p *parser) condition(kw string) (*pipeline, error) {
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != '(' {
		return nil, p.fail(p.pos, p.pos+1, "MissingOpenParenthesisIn"+strings.ToUpper(kw[:1])+kw[1:]+"Statement",
			fmt.Sprintf("Missing '(' after '%s' in %s statement.", kw, kw))
	}
	open := p.pos
	p.pos++
	if err := p.skip(true); err != nil {
		return nil, err
	}
	cond, err := p.pipeline()
	if err != nil {
		return nil, err
	}
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != ')' {
		_ = open
		return nil, p.fail(p.pos, p.pos+1, "MissingEndParenthesisAfterStatement",
			fmt.Sprintf("Missing closing ')' after expression in '%s' statement.", kw))
	}
	p.pos++
	return cond, nil
}

func (p *parser) blockBody() (*block, error) {
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != '{' {
		return nil, p.fail(p.pos, p.pos+1, "MissingStatementBlock", "Missing statement block.")
	}
	open := p.pos
	p.pos++
	b, err := p.statements('}')
	if err != nil {
		return nil, err
	}
	if p.peek() != '}' {
		return nil, p.fail(open, open+1, "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
	}
	p.pos++
	return b, nil
}

func (p *parser) ifStatement() (stmt, error) {
	s := &ifStmt{}
	kw := "if"
	for {
		cond, err := p.condition(kw)
		if err != nil {
			return nil, err
		}
		body, err := p.blockBody()
		if err != nil {
			return nil, err
		}
		s.conds = append(s.conds, cond)
		s.bodies = append(s.bodies, body)
		save := p.pos
		if err := p.skip(true); err != nil {
			return nil, err
		}
		switch p.keyword("elseif", "else") {
		case "elseif":
			kw = "elseif"
			continue
		case "else":
			body, err := p.blockBody()
			if err != nil {
				return nil, err
			}
			s.els = body
			return s, nil
		}
		p.pos = save
		return s, nil
	}
}

func (p *parser) foreachStatement(start int) (stmt, error) {
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != '(' {
		return nil, p.fail(p.pos, p.pos+1, "MissingOpenParenthesisAfterKeyword", "Missing opening '(' after keyword 'foreach'.")
	}
	p.pos++
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != '$' {
		return nil, p.fail(p.pos, p.pos+1, "MissingVariableNameAfterForeach", "Missing variable name after foreach.")
	}
	p.pos++
	name := p.varName()
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.keyword("in") == "" {
		return nil, p.fail(p.pos, p.pos+1, "MissingInInForeach", "Missing 'in' after variable in foreach loop.")
	}
	if err := p.skip(true); err != nil {
		return nil, err
	}
	coll, err := p.pipeline()
	if err != nil {
		return nil, err
	}
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != ')' {
		return nil, p.fail(p.pos, p.pos+1, "MissingEndParenthesisAfterForeach", "Missing closing ')' after expression in 'foreach' statement.")
	}
	p.pos++
	body, err := p.blockBody()
	if err != nil {
		return nil, err
	}
	return &foreachStmt{variable: name, coll: coll, body: body}, nil
}

// pipeline: element (| element)*. The first element may be an expression; later ones are commands.
func (p *parser) pipeline() (*pipeline, error) {
	start := p.pos
	pl := &pipeline{}
	for i := 0; ; i++ {
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if p.eof() || strings.ContainsRune("|;\n\r)}", p.peek()) {
			return nil, p.fail(p.pos, p.pos+1, "EmptyPipeElement", "An empty pipe element is not allowed.")
		}
		if p.startsCommand() {
			c, err := p.command()
			if err != nil {
				return nil, err
			}
			pl.elems = append(pl.elems, c)
		} else {
			es := p.pos
			e, err := p.expression()
			if err != nil {
				return nil, err
			}
			if i > 0 {
				return nil, p.fail(es, p.pos, "ExpressionsMustBeFirstInPipeline", "Expressions are only allowed as the first element of a pipeline.")
			}
			pl.elems = append(pl.elems, e)
		}
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if p.peek() == '|' && p.peekAt(1) != '|' {
			p.pos++
			if err := p.skip(true); err != nil {
				return nil, err
			}
			continue
		}
		pl.ext = &extent{src: p.src, start: start, end: p.pos}
		return pl, nil
	}
}

func isWordRune(c rune) bool {
	return c != 0 && !unicode.IsSpace(c) && !strings.ContainsRune("|;(){},\"'`$@&<>\n\r", c)
}

// startsCommand: a bare word that is not a number, or the aliases % and ?.
func (p *parser) startsCommand() bool {
	c := p.peek()
	if c == '%' || c == '?' {
		n := p.peekAt(1)
		return n == 0 || unicode.IsSpace(n) || n == '{'
	}
	if c == '&' {
		return true
	}
	if !(unicode.IsLetter(c) || c == '_') {
		return false
	}
	return true
}

// command parses a command name and its arguments in argument mode.
func (p *parser) command() (*command, error) {
	start := p.pos
	c := &command{}
	if p.peek() == '&' {
		p.pos++
		if err := p.skip(false); err != nil {
			return nil, err
		}
	}
	ns := p.pos
	for p.pos < len(p.src) && isWordRune(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == ns && (p.peek() == '\'' || p.peek() == '"') {
		s, err := p.stringLiteral()
		if err != nil {
			return nil, err
		}
		if l, ok := s.(*literal); ok {
			c.name = toString(l.v)
		} else {
			c.nameExpr = s // & "Get-$noun"
		}
	} else {
		c.name = string(p.src[ns:p.pos])
	}
	c.nameExt = &extent{src: p.src, start: ns, end: p.pos}
	for {
		if err := p.skip(false); err != nil {
			return nil, err
		}
		ch := p.peek()
		if p.eof() || strings.ContainsRune("|;\n\r)}", ch) {
			break
		}
		as := p.pos
		if ch == '-' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_' || p.peekAt(1) == '?') {
			p.pos++
			ps := p.pos
			for p.pos < len(p.src) && isWordRune(p.src[p.pos]) && p.src[p.pos] != ':' {
				p.pos++
			}
			a := cmdArg{param: string(p.src[ps:p.pos])}
			if p.peek() == ':' {
				p.pos++
				a.colon = true
				vs := p.pos
				v, err := p.argValue()
				if err != nil {
					return nil, err
				}
				a.value = v
				a.valueExt = &extent{src: p.src, start: vs, end: p.pos}
			}
			a.ext = &extent{src: p.src, start: as, end: p.pos}
			a.text = string(p.src[as:p.pos])
			c.args = append(c.args, a)
			continue
		}
		if ch == '@' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_') {
			p.pos++
			name := p.varName()
			c.args = append(c.args, cmdArg{splat: name, ext: &extent{src: p.src, start: as, end: p.pos}, text: string(p.src[as:p.pos])})
			continue
		}
		if ch == '-' && p.peekAt(1) == '-' && (p.peekAt(2) == 0 || unicode.IsSpace(p.peekAt(2))) {
			p.pos += 2 // end of parameters marker
			continue
		}
		v, err := p.argValue()
		if err != nil {
			return nil, err
		}
		ext := &extent{src: p.src, start: as, end: p.pos}
		c.args = append(c.args, cmdArg{value: v, ext: ext, valueExt: ext, text: string(p.src[as:p.pos])})
	}
	c.ext = &extent{src: p.src, start: start, end: p.pos}
	return c, nil
}

// argValue is one argument in argument mode, with commas making an array.
func (p *parser) argValue() (expr, error) {
	var elems []expr
	for {
		if err := p.skip(false); err != nil {
			return nil, err
		}
		e, err := p.argElement()
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if p.peek() == ',' {
			p.pos++
			if err := p.skip(true); err != nil {
				return nil, err
			}
			continue
		}
		p.pos = save
		break
	}
	if len(elems) == 1 {
		return elems[0], nil
	}
	return &arrayExpr{elems: elems}, nil
}

func (p *parser) argElement() (expr, error) {
	c := p.peek()
	switch {
	// "[" is not a type in argument mode: -Bindings [::]:25 is a word
	case c == '$' || c == '(' || c == '@' || c == '{' || isSQ(c) || isDQ(c):
		e, err := p.primary()
		if err != nil {
			return nil, err
		}
		return p.postfix(e, true)
	case p.eof() || strings.ContainsRune("|;\n\r)},", c):
		return nil, p.fail(p.pos, p.pos+1, "MissingExpression", "Missing expression after ','.")
	}
	// a bare word: a number if it reads as one, else a string
	start := p.pos
	var b strings.Builder
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		if ch == '`' && p.pos+1 < len(p.src) {
			b.WriteRune(p.src[p.pos+1])
			p.pos += 2
			continue
		}
		// '@' starts @( @{ @var only at a token's start; inside a bare word it is a
		// character, as in Get-Mailbox admin@contoso.test.
		if !isWordRune(ch) && ch != '&' && (ch != '@' || p.pos == start) {
			break
		}
		b.WriteRune(ch)
		p.pos++
	}
	if p.pos == start {
		return nil, p.unexpected()
	}
	w := b.String()
	if n, ok := parseNumberLiteral(w); ok {
		return &literal{v: n}, nil
	}
	return &literal{v: w}, nil
}

// parseNumberLiteral reads PowerShell's numbers: decimal, hex (0x), fractions, exponents and
// the multiplier suffixes kb mb gb tb pb (10MB is 10485760).
func parseNumberLiteral(s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	neg := false
	t := s
	if t[0] == '-' || t[0] == '+' {
		neg = t[0] == '-'
		t = t[1:]
	}
	mult := 1.0
	lt := strings.ToLower(t)
	for i, suf := range []string{"kb", "mb", "gb", "tb", "pb"} {
		if strings.HasSuffix(lt, suf) {
			mult = math.Pow(1024, float64(i+1))
			t = t[:len(t)-2]
			lt = lt[:len(lt)-2]
			break
		}
	}
	if t == "" {
		return nil, false
	}
	var f float64
	isInt := false
	if strings.HasPrefix(lt, "0x") {
		n, err := strconv.ParseInt(t[2:], 16, 64)
		if err != nil {
			return nil, false
		}
		f, isInt = float64(n), true
	} else {
		for _, ch := range t {
			if !(ch >= '0' && ch <= '9' || ch == '.' || ch == 'e' || ch == 'E' || ch == '-' || ch == '+') {
				return nil, false
			}
		}
		if t[0] < '0' || t[0] > '9' {
			if !(t[0] == '.' && len(t) > 1) {
				return nil, false
			}
		}
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			if neg {
				n = -n
			}
			if mult == 1 {
				return n, true
			}
			return numberValue(float64(n) * mult), true
		}
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, false
		}
		f = v
	}
	if neg {
		f = -f
	}
	f *= mult
	if isInt || mult != 1 {
		return numberValue(f), true
	}
	return f, true
}

// Expression mode, lowest precedence first (about_Operator_Precedence):
// -and -or, comparison, + -, * / %, unary -, .., -not !, comma, postfix.

var comparisonOps = map[string]bool{}

func init() {
	for _, op := range []string{"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch",
		"contains", "notcontains", "in", "notin", "replace", "split", "join", "is", "isnot", "as"} {
		comparisonOps[op] = true
		comparisonOps["i"+op] = true
		comparisonOps["c"+op] = true
	}
}

func (p *parser) expression() (expr, error) { return p.logical() }

// dashOperator reads -word at the cursor when it is an operator of the set; it does not move
// otherwise.
func (p *parser) dashOperator(ok func(string) bool) string {
	if p.peek() != '-' || !unicode.IsLetter(p.peekAt(1)) {
		return ""
	}
	end := p.pos + 1
	for end < len(p.src) && unicode.IsLetter(p.src[end]) {
		end++
	}
	w := strings.ToLower(string(p.src[p.pos+1 : end]))
	if !ok(w) {
		return ""
	}
	p.pos = end
	return w
}

func (p *parser) operand(op string) (expr, error) {
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.eof() || strings.ContainsRune(";)}|", p.peek()) {
		return nil, p.fail(p.pos, p.pos+1, "ExpectedValueExpression",
			fmt.Sprintf("You must provide a value expression following the '%s' operator.", op))
	}
	return nil, nil
}

func (p *parser) logical() (expr, error) {
	l, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		op := p.dashOperator(func(w string) bool { return w == "and" || w == "or" || w == "xor" })
		if op == "" {
			p.pos = save
			return l, nil
		}
		if _, err := p.operand("-" + op); err != nil {
			return nil, err
		}
		r, err := p.comparison()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
}

func (p *parser) comparison() (expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		op := p.dashOperator(func(w string) bool { return comparisonOps[w] })
		if op == "" {
			p.pos = save
			return l, nil
		}
		if _, err := p.operand("-" + op); err != nil {
			return nil, err
		}
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: op, l: l, r: r}
	}
}

func (p *parser) additive() (expr, error) {
	return p.binaryLevel(p.multiplicative, func(c, n rune) bool {
		// not += -=, not ++ --, and not a -operator (-eq, -like …)
		return (c == '+' || c == '-') && n != '=' && !(c == '-' && unicode.IsLetter(n)) && c != n
	})
}

func (p *parser) multiplicative() (expr, error) {
	return p.binaryLevel(p.formatOp, func(c, n rune) bool { return (c == '*' || c == '/' || c == '%') && n != '=' })
}

// binaryLevel parses one left-associative level of single-character operators: operands of
// the tighter level next, joined by the operators isOp accepts (c, and the rune after it).
func (p *parser) binaryLevel(next func() (expr, error), isOp func(c, n rune) bool) (expr, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		c := p.peek()
		if !isOp(c, p.peekAt(1)) {
			p.pos = save
			return l, nil
		}
		p.pos++
		if _, err := p.operand(string(c)); err != nil {
			return nil, err
		}
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: string(c), l: l, r: r}
	}
}

// formatOp is "-f", which binds tighter than * and looser than the comma ("{0} {1}" -f $a, $b).
func (p *parser) formatOp() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if p.dashOperator(func(w string) bool { return w == "f" }) == "" {
			p.pos = save
			return l, nil
		}
		if _, err := p.operand("-f"); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &binExpr{op: "f", l: l, r: r}
	}
}

func (p *parser) unary() (expr, error) {
	if err := p.skip(false); err != nil {
		return nil, err
	}
	c := p.peek()
	if c == '!' {
		p.pos++
		if _, err := p.operand("!"); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x}, nil
	}
	if op := p.dashOperator(func(w string) bool { return w == "not" }); op != "" {
		if _, err := p.operand("-not"); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x}, nil
	}
	if c == '-' && !unicode.IsDigit(p.peekAt(1)) && p.peekAt(1) != '.' {
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "-", x: x}, nil
	}
	return p.rangeExpr()
}

func (p *parser) rangeExpr() (expr, error) {
	l, err := p.comma()
	if err != nil {
		return nil, err
	}
	if p.hasPrefix("..") {
		p.pos += 2
		r, err := p.comma()
		if err != nil {
			return nil, err
		}
		return &binExpr{op: "..", l: l, r: r}, nil
	}
	return l, nil
}

func (p *parser) comma() (expr, error) {
	first, err := p.castOrPostfix()
	if err != nil {
		return nil, err
	}
	elems := []expr{first}
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		if p.peek() != ',' {
			p.pos = save
			break
		}
		p.pos++
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.eof() || strings.ContainsRune(";)}|", p.peek()) {
			return nil, p.fail(p.pos, p.pos+1, "MissingExpressionAfterToken", "Missing expression after ','.")
		}
		e, err := p.castOrPostfix()
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
	}
	if len(elems) == 1 {
		return first, nil
	}
	return &arrayExpr{elems: elems}, nil
}

func (p *parser) castOrPostfix() (expr, error) {
	if err := p.skip(false); err != nil {
		return nil, err
	}
	if p.peek() == '-' && (unicode.IsDigit(p.peekAt(1)) || p.peekAt(1) == '.') {
		p.pos++
		x, err := p.castOrPostfix()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "-", x: x}, nil
	}
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	if t, ok := e.(*typeExpr); ok {
		save := p.pos
		c := p.peek()
		if c != 0 && !unicode.IsSpace(c) && !strings.ContainsRune(";)}|,:.", c) {
			x, err := p.castOrPostfix()
			if err != nil {
				return nil, err
			}
			return &castExpr{typ: t.typ, x: x}, nil
		}
		p.pos = save
	}
	return p.postfix(e, false)
}

// postfix reads .Member, .Method(args), ::Static and [index] directly after a primary.
func (p *parser) postfix(e expr, argMode bool) (expr, error) {
	for {
		c := p.peek()
		switch {
		case c == '.' && p.peekAt(1) != '.' && (isWordRune(p.peekAt(1)) || p.peekAt(1) == '\'' || p.peekAt(1) == '"'):
			p.pos++
			name, err := p.memberName()
			if err != nil {
				return nil, err
			}
			m := &memberExpr{obj: e, name: name}
			if p.peek() == '(' {
				args, err := p.callArgs()
				if err != nil {
					return nil, err
				}
				m.call, m.args = true, args
			}
			e = m
		case c == ':' && p.peekAt(1) == ':':
			p.pos += 2
			name, err := p.memberName()
			if err != nil {
				return nil, err
			}
			m := &memberExpr{obj: e, name: name, static: true}
			if p.peek() == '(' {
				args, err := p.callArgs()
				if err != nil {
					return nil, err
				}
				m.call, m.args = true, args
			}
			e = m
		case c == '[':
			p.pos++
			if err := p.skip(true); err != nil {
				return nil, err
			}
			idx, err := p.expression()
			if err != nil {
				return nil, err
			}
			if err := p.skip(true); err != nil {
				return nil, err
			}
			if p.peek() != ']' {
				return nil, p.fail(p.pos, p.pos+1, "MissingEndSquareBracket", "Array index expression is missing or not valid.")
			}
			p.pos++
			e = &indexExpr{obj: e, idx: idx}
		default:
			if argMode && isWordRune(c) && c != '=' {
				// "$x.txt"-style concatenation in argument mode: $a-suffix
				start := p.pos
				for p.pos < len(p.src) && isWordRune(p.src[p.pos]) {
					p.pos++
				}
				e = &expandString{parts: []any{e, string(p.src[start:p.pos])}}
				continue
			}
			return e, nil
		}
	}
}

func (p *parser) memberName() (string, error) {
	if p.peek() == '\'' || p.peek() == '"' {
		s, err := p.stringLiteral()
		if err != nil {
			return "", err
		}
		if l, ok := s.(*literal); ok {
			return toString(l.v), nil
		}
		return "", p.unexpected()
	}
	start := p.pos
	for p.pos < len(p.src) && (unicode.IsLetter(p.src[p.pos]) || unicode.IsDigit(p.src[p.pos]) || p.src[p.pos] == '_') {
		p.pos++
	}
	if p.pos == start {
		return "", p.fail(p.pos, p.pos+1, "MissingPropertyName", "Missing property name after reference operator.")
	}
	return string(p.src[start:p.pos]), nil
}

func (p *parser) callArgs() ([]expr, error) {
	open := p.pos
	p.pos++ // (
	var args []expr
	for {
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() == ')' {
			p.pos++
			return args, nil
		}
		a, err := p.logicalNoComma()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if err := p.skip(true); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
		default:
			return nil, p.fail(open, open+1, "MissingEndParenthesisInMethodCall", "Missing closing ')' in expression.")
		}
	}
}

// logicalNoComma parses a method argument (commas separate arguments there).
func (p *parser) logicalNoComma() (expr, error) {
	e, err := p.castOrPostfix()
	if err != nil {
		return nil, err
	}
	// allow simple binary operators in method args
	for {
		save := p.pos
		if err := p.skip(false); err != nil {
			return nil, err
		}
		c := p.peek()
		if c == '+' || c == '*' || c == '/' || (c == '-' && !unicode.IsLetter(p.peekAt(1))) {
			p.pos++
			r, err := p.castOrPostfix()
			if err != nil {
				return nil, err
			}
			e = &binExpr{op: string(c), l: e, r: r}
			continue
		}
		p.pos = save
		return e, nil
	}
}

func (p *parser) varName() string {
	if p.peek() == '{' {
		end := p.pos + 1
		for end < len(p.src) && p.src[end] != '}' {
			end++
		}
		name := string(p.src[p.pos+1 : end])
		p.pos = min(end+1, len(p.src))
		return name
	}
	start := p.pos
	if p.peek() == '_' || p.peek() == '?' || p.peek() == '^' || p.peek() == '$' {
		p.pos++
		if p.src[start] != '_' {
			return string(p.src[start:p.pos])
		}
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' {
			p.pos++
			continue
		}
		if c == ':' && p.pos+1 < len(p.src) && unicode.IsLetter(p.src[p.pos+1]) {
			// scope qualifier: $global:x, $script:x, $env:x
			p.pos++
			continue
		}
		break
	}
	return string(p.src[start:p.pos])
}

func (p *parser) primary() (expr, error) {
	if err := p.skip(false); err != nil {
		return nil, err
	}
	start := p.pos
	c := p.peek()
	switch {
	case c == '$':
		p.pos++
		if p.peek() == '(' {
			p.pos++
			b, err := p.statements(')')
			if err != nil {
				return nil, err
			}
			if p.peek() != ')' {
				return nil, p.fail(start, start+2, "MissingEndParenthesisInSubexpression", "Missing closing ')' in subexpression.")
			}
			p.pos++
			return &subExpr{body: b}, nil
		}
		name := p.varName()
		if name == "" {
			return &literal{v: "$"}, nil
		}
		return &varRef{name: name}, nil
	case c == '@' && p.peekAt(1) == '(':
		p.pos += 2
		b, err := p.statements(')')
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.fail(start, start+2, "MissingEndParenthesisInSubexpression", "Missing closing ')' in subexpression.")
		}
		p.pos++
		return &subExpr{body: b, array: true}, nil
	case c == '@' && p.peekAt(1) == '{':
		return p.hashLiteral()
	case c == '@' && (p.peekAt(1) == '"' || p.peekAt(1) == '\''):
		return p.hereString()
	case c == '(':
		p.pos++
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() == ')' {
			p.pos++
			return &literal{v: nil}, nil
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.fail(p.pos, p.pos+1, "MissingEndParenthesisInExpression", "Missing closing ')' in expression.")
		}
		p.pos++
		return &parenExpr{value: s}, nil
	case c == '{':
		p.pos++
		bs := p.pos
		b, err := p.statements('}')
		if err != nil {
			return nil, err
		}
		if p.peek() != '}' {
			return nil, p.fail(start, start+1, "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
		}
		src := string(p.src[bs:p.pos])
		p.pos++
		return &scriptExpr{sb: &ScriptBlock{body: b, src: src}}, nil
	case c == '\'' || c == '"' || c == '\u2018' || c == '\u2019' || c == '\u201c' || c == '\u201d':
		return p.stringLiteral()
	case c == '[':
		end := p.pos + 1
		depth := 1
		for end < len(p.src) && depth > 0 {
			switch p.src[end] {
			case '[':
				depth++
			case ']':
				depth--
			}
			end++
		}
		if depth != 0 {
			return nil, p.fail(start, start+1, "EndSquareBracketExpectedAtEndOfAttribute", "Missing ] at end of attribute or type literal.")
		}
		typ := strings.TrimSpace(string(p.src[p.pos+1 : end-1]))
		p.pos = end
		return &typeExpr{typ: typ}, nil
	case unicode.IsDigit(c) || (c == '.' && unicode.IsDigit(p.peekAt(1))):
		end := p.pos
		for end < len(p.src) && (unicode.IsLetter(p.src[end]) || unicode.IsDigit(p.src[end]) || p.src[end] == '.' && !(end+1 < len(p.src) && p.src[end+1] == '.')) {
			end++
		}
		w := string(p.src[p.pos:end])
		n, ok := parseNumberLiteral(w)
		if !ok {
			return nil, p.fail(p.pos, end, "BadNumericConstant", fmt.Sprintf("The numeric constant %s is not valid.", w))
		}
		p.pos = end
		return &literal{v: n}, nil
	case unicode.IsLetter(c):
		// a bare word in expression mode: $true-less keywords are errors; treat as a command
		// call inside ( ) is handled by startsCommand; here it is an unexpected token
		return nil, p.unexpected()
	}
	if p.eof() {
		return nil, p.fail(p.pos, p.pos+1, "ExpectedExpression", "Expression expected.")
	}
	return nil, p.unexpected()
}

func (p *parser) hashLiteral() (expr, error) {
	start := p.pos
	p.pos += 2
	h := &hashExpr{}
	for {
		if err := p.skip(true); err != nil {
			return nil, err
		}
		for p.peek() == ';' {
			p.pos++
			if err := p.skip(true); err != nil {
				return nil, err
			}
		}
		if p.peek() == '}' {
			p.pos++
			return h, nil
		}
		if p.eof() {
			return nil, p.fail(start, start+2, "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
		}
		var key expr
		if c := p.peek(); c == '\'' || c == '"' || c == '$' || c == '(' {
			k, err := p.primary()
			if err != nil {
				return nil, err
			}
			key = k
		} else {
			ks := p.pos
			for p.pos < len(p.src) && isWordRune(p.src[p.pos]) && p.src[p.pos] != '=' {
				p.pos++
			}
			if p.pos == ks {
				return nil, p.fail(p.pos, p.pos+1, "MissingEqualsInHashLiteral", "Missing '=' operator after key in hash literal.")
			}
			key = &literal{v: string(p.src[ks:p.pos])}
		}
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() != '=' {
			return nil, p.fail(p.pos, p.pos+1, "MissingEqualsInHashLiteral", "Missing '=' operator after key in hash literal.")
		}
		p.pos++
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.eof() || p.peek() == '}' || p.peek() == ';' {
			return nil, p.fail(p.pos, p.pos+1, "MissingStatementInHashLiteral", "Missing statement after '=' in hash literal.")
		}
		v, err := p.statement()
		if err != nil {
			return nil, err
		}
		h.keys = append(h.keys, key)
		h.vals = append(h.vals, v)
		if err := p.skip(false); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ';', '\n', '\r', '}':
		default:
			if p.eof() {
				return nil, p.fail(start, start+2, "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
			}
			return nil, p.fail(p.pos, p.pos+1, "MissingEndCurlyBrace", "The hash literal was incomplete.")
		}
	}
}

func isDQ(c rune) bool { return c == '"' || c == '\u201c' || c == '\u201d' || c == '\u201e' }
func isSQ(c rune) bool { return c == '\'' || c == '\u2018' || c == '\u2019' || c == '\u201a' }

// stringLiteral reads '…' (literal, ” is a quote) or "…" (expandable: $var, ${var},
// $(subexpression), backtick escapes, "" is a quote).
func (p *parser) stringLiteral() (expr, error) {
	start := p.pos
	q := p.peek()
	p.pos++
	if isSQ(q) {
		var b strings.Builder
		for {
			if p.eof() {
				return nil, p.fail(start, len(p.src), "TerminatorExpectedAtEndOfString", "The string is missing the terminator: '.")
			}
			c := p.src[p.pos]
			if isSQ(c) {
				if isSQ(p.peekAt(1)) {
					b.WriteRune('\'')
					p.pos += 2
					continue
				}
				p.pos++
				return &literal{v: b.String()}, nil
			}
			b.WriteRune(c)
			p.pos++
		}
	}
	return p.expandable(start, func() bool {
		if isDQ(p.peek()) {
			if isDQ(p.peekAt(1)) {
				return false
			}
			p.pos++
			return true
		}
		return false
	}, "The string is missing the terminator: \".", true)
}

// expandable reads the body of an expandable string until done() consumes the terminator.
func (p *parser) expandable(start int, done func() bool, unterminated string, dq bool) (expr, error) {
	var parts []any
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, b.String())
			b.Reset()
		}
	}
	for {
		if p.eof() {
			return nil, p.fail(start, len(p.src), "TerminatorExpectedAtEndOfString", unterminated)
		}
		if done() {
			break
		}
		c := p.src[p.pos]
		switch {
		case dq && isDQ(c) && isDQ(p.peekAt(1)):
			b.WriteRune('"')
			p.pos += 2
		case c == '`' && p.pos+1 < len(p.src):
			b.WriteString(backtickEscape(p.src[p.pos+1]))
			p.pos += 2
		case c == '$' && p.peekAt(1) == '(':
			flush()
			ss := p.pos
			p.pos += 2
			blk, err := p.statements(')')
			if err != nil {
				return nil, err
			}
			if p.peek() != ')' {
				return nil, p.fail(ss, ss+2, "MissingEndParenthesisInSubexpression", "Missing closing ')' in subexpression.")
			}
			p.pos++
			parts = append(parts, &subExpr{body: blk})
		case c == '$' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_' || p.peekAt(1) == '{'):
			flush()
			p.pos++
			parts = append(parts, &varRef{name: p.varName()})
		default:
			b.WriteRune(c)
			p.pos++
		}
	}
	flush()
	if len(parts) == 0 {
		return &literal{v: ""}, nil
	}
	if len(parts) == 1 {
		if s, ok := parts[0].(string); ok {
			return &literal{v: s}, nil
		}
	}
	return &expandString{parts: parts}, nil
}

func backtickEscape(c rune) string {
	switch c {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 'r':
		return "\r"
	case '0':
		return "\x00"
	case 'a':
		return "\a"
	case 'b':
		return "\b"
	case 'f':
		return "\f"
	case 'v':
		return "\v"
	case 'e':
		return "\x1b"
	}
	return string(c)
}

// hereString reads @"…"@ and @'…'@: the text between the line after the opener and the line
// that starts with the closer.
func (p *parser) hereString() (expr, error) {
	start := p.pos
	q := p.peekAt(1)
	p.pos += 2
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
	if p.peek() == '\r' {
		p.pos++
	}
	if p.peek() != '\n' {
		return nil, p.fail(start, start+2, "UnexpectedCharactersAfterHereStringHeader", "No characters are allowed after a here-string header but before the end of the line.")
	}
	p.pos++
	closer := "\n" + string(q) + "@"
	rest := string(p.src[p.pos:])
	end := strings.Index(rest, closer)
	if strings.HasPrefix(rest, string(q)+"@") {
		end = -1
		p.pos += 2
		return &literal{v: ""}, nil
	}
	if end < 0 {
		return nil, p.fail(start, start+2, "TerminatorExpectedAtEndOfString", fmt.Sprintf("The string is missing the terminator: %c@.", q))
	}
	bodyRunes := len([]rune(rest[:end]))
	if q == '\'' {
		body := strings.TrimSuffix(rest[:end], "\r")
		p.pos += bodyRunes + 3
		return &literal{v: body}, nil
	}
	stop := p.pos + bodyRunes
	e, err := p.expandable(start, func() bool {
		if p.pos >= stop {
			p.pos = max(p.pos, stop+3)
			return true
		}
		return false
	}, "The string is missing the terminator: \"@.", false)
	if err != nil {
		return nil, err
	}
	if l, ok := e.(*literal); ok {
		l.v = strings.TrimSuffix(toString(l.v), "\r")
	}
	return e, nil
}

// tryStatement: try { } catch [Type] { } … finally { }.
func (p *parser) tryStatement() (stmt, error) {
	body, err := p.blockBody()
	if err != nil {
		return nil, err
	}
	t := &tryStmt{body: body}
	for {
		save := p.pos
		if err := p.skip(true); err != nil {
			return nil, err
		}
		switch p.keyword("catch", "finally") {
		case "catch":
			var c catchClause
			for {
				if err := p.skip(true); err != nil {
					return nil, err
				}
				if p.peek() != '[' {
					break
				}
				e, err := p.primary()
				if err != nil {
					return nil, err
				}
				if te, ok := e.(*typeExpr); ok {
					c.types = append(c.types, te.typ)
				}
				if err := p.skip(true); err != nil {
					return nil, err
				}
				if p.peek() == ',' {
					p.pos++
				}
			}
			b, err := p.blockBody()
			if err != nil {
				return nil, err
			}
			c.body = b
			t.catches = append(t.catches, c)
			continue
		case "finally":
			b, err := p.blockBody()
			if err != nil {
				return nil, err
			}
			t.finally = b
			return t, nil
		}
		p.pos = save
		if len(t.catches) == 0 {
			return nil, p.fail(p.pos, p.pos+1, "MissingCatchOrFinally", "The Try statement is missing its Catch or Finally block.")
		}
		return t, nil
	}
}

// functionStatement: function Name($a, $b = 1) { … } or function Name { param([string]$a) … }.
func (p *parser) functionStatement() (stmt, error) {
	if err := p.skip(false); err != nil {
		return nil, err
	}
	start := p.pos
	for p.pos < len(p.src) && isWordRune(p.src[p.pos]) {
		p.pos++
	}
	f := &functionStmt{name: string(p.src[start:p.pos])}
	if f.name == "" {
		return nil, p.fail(p.pos, p.pos+1, "MissingNameAfterKeyword", "Missing name after function keyword.")
	}
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() == '(' {
		ps, err := p.paramList()
		if err != nil {
			return nil, err
		}
		f.params = ps
	}
	if err := p.skip(true); err != nil {
		return nil, err
	}
	if p.peek() != '{' {
		return nil, p.fail(p.pos, p.pos+1, "MissingFunctionBody", "Missing function body in function declaration.")
	}
	open := p.pos
	p.pos++
	if err := p.skip(true); err != nil {
		return nil, err
	}
	// attributes before param: [CmdletBinding()]
	for p.peek() == '[' {
		if _, err := p.primary(); err != nil {
			return nil, err
		}
		if p.peek() == '(' {
			depth := 0
			for p.pos < len(p.src) {
				if p.src[p.pos] == '(' {
					depth++
				} else if p.src[p.pos] == ')' {
					depth--
					if depth == 0 {
						p.pos++
						break
					}
				}
				p.pos++
			}
		}
		if err := p.skip(true); err != nil {
			return nil, err
		}
	}
	if p.keyword("param") != "" {
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() != '(' {
			return nil, p.fail(p.pos, p.pos+1, "ParamBlockMissing", "Missing '(' after 'param'.")
		}
		ps, err := p.paramList()
		if err != nil {
			return nil, err
		}
		f.params = append(f.params, ps...)
	}
	body, err := p.statements('}')
	if err != nil {
		return nil, err
	}
	if p.peek() != '}' {
		return nil, p.fail(open, open+1, "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
	}
	p.pos++
	f.body = body
	return f, nil
}

// paramList reads ( [attr][type]$name = default, … ), keeping the type and Mandatory.
func (p *parser) paramList() ([]funcParam, error) {
	open := p.pos
	p.pos++ // (
	var out []funcParam
	for {
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() == ')' {
			p.pos++
			return out, nil
		}
		var fp funcParam
		for p.peek() == '[' {
			e, err := p.primary()
			if err != nil {
				return nil, err
			}
			if te, ok := e.(*typeExpr); ok {
				lt := strings.ToLower(te.typ)
				switch {
				case strings.HasPrefix(lt, "parameter("):
					if strings.Contains(strings.ReplaceAll(lt, " ", ""), "mandatory") && !strings.Contains(strings.ReplaceAll(lt, " ", ""), "mandatory=$false") {
						fp.mandatory = true
					}
				case strings.Contains(lt, "("):
				default:
					fp.typ = te.typ
				}
			}
			if err := p.skip(true); err != nil {
				return nil, err
			}
		}
		if p.peek() != '$' {
			return nil, p.fail(open, open+1, "MissingEndParenthesisInFunctionParameterList", "Missing ')' in function parameter list.")
		}
		p.pos++
		fp.name = p.varName()
		if err := p.skip(true); err != nil {
			return nil, err
		}
		if p.peek() == '=' {
			p.pos++
			d, err := p.logicalNoComma()
			if err != nil {
				return nil, err
			}
			fp.def = d
			if err := p.skip(true); err != nil {
				return nil, err
			}
		}
		out = append(out, fp)
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
		default:
			return nil, p.fail(open, open+1, "MissingEndParenthesisInFunctionParameterList", "Missing ')' in function parameter list.")
		}
	}
}
