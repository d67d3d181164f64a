package queue

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendItemJSON: what appendItemJSON writes reads back as the item it was made from, for
// every field (filled by reflection, so a field added to MailboxItem and not to the encoder
// fails here), and for the strings JSON must escape.
func TestAppendItemJSON(t *testing.T) {
	full := MailboxItem{}
	v := reflect.ValueOf(&full).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + v.Type().Field(i).Name)
		case reflect.Int64, reflect.Int:
			f.SetInt(int64(1000 + i))
		case reflect.Uint64:
			f.SetUint(uint64(1 << 60))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"a@b.test", "c@d.test"}))
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2026, 12, 2, 16, 51, 3, 530_000_123, time.UTC)))
		default:
			t.Fatalf("field %s of kind %s: teach appendItemJSON and this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	for _, tc := range []struct {
		name string
		item MailboxItem
	}{
		{"every field", full},
		{"empty", MailboxItem{}},
		{"escapes", MailboxItem{Mailbox: `a"b\c`, Subject: "tab\there\r\nnul\x00 bell\x07 ünï 日本 \xff\xfe bad", To: []string{}, HeaderPrefix: "Received: from x\r\n\tby y; <z>&\r\n",
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))}},
	} {
		b := appendItemJSON(nil, &tc.item)
		var got MailboxItem
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v in %s", tc.name, err, b)
		}
		var want MailboxItem
		std, _ := json.Marshal(tc.item)
		_ = json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) || !got.Received.Equal(tc.item.Received) {
			t.Errorf("%s:\n got %+v\nwant %+v\n(%s)", tc.name, got, want, b)
		}
	}
}
