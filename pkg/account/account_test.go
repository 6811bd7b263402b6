package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/account"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func TestDeleteHookFailureRollsBack(t *testing.T) {
	st := testutil.NewStore(t)
	ctx := context.Background()
	if err := account.New(st, nil, nil).SetStaff(ctx, nil, "user_keep", false, account.UnknownCreate); err != nil {
		t.Fatal(err)
	}
	svc := account.New(st, nil, testutil.Logger())
	if _, err := svc.CreateAddress(ctx, user("user_keep"), account.AddressInput{
		Name: testutil.Ptr("Casa"), Type: testutil.Ptr("casa"), Address: testutil.Ptr("Calle 1"), City: testutil.Ptr("Cali")}); err != nil {
		t.Fatal(err)
	}
	svc.OnDelete = func(tx *gorm.DB, userID string) ([]realtime.Message, error) {
		return nil, errors.New("market down")
	}
	if err := svc.DeleteProfile(ctx, user("user_keep")); err == nil {
		t.Fatal("deletion succeeded with a failing hook")
	}
	var u store.User
	st.DB.Where("userid = ?", "user_keep").Take(&u)
	var n, frames int64
	st.DB.Model(&store.Address{}).Where("user_id = ?", "user_keep").Count(&n)
	st.DB.Model(&store.OutboxEvent{}).Count(&frames)
	if u.DeletedAt != nil || n != 1 || frames != 0 {
		t.Fatalf("partial deletion: deleted_at=%v addresses=%d frames=%d", u.DeletedAt, n, frames)
	}
	// Without an outbox the frames stay in the table for the relay.
	svc.OnDelete = nil
	if err := svc.DeleteProfile(ctx, user("user_keep")); err != nil {
		t.Fatal(err)
	}
	st.DB.Model(&store.OutboxEvent{}).Where("group_name = ? AND published_at IS NULL", realtime.GroupControl).Count(&frames)
	if frames != 1 {
		t.Fatalf("control frames %d", frames)
	}
	// Deleting twice is harmless.
	if err := svc.DeleteProfile(ctx, user("user_keep")); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeWebhookEvents(t *testing.T) {
	st := testutil.NewStore(t)
	ctx := context.Background()
	svc := account.New(st, nil, testutil.Logger())
	now := store.Now()
	st.DB.Create(&[]store.WebhookEvent{
		{SvixID: "msg_old", EventType: "user.created", ReceivedAt: now.Add(-8 * 24 * time.Hour)},
		{SvixID: "msg_new", EventType: "user.created", ReceivedAt: now.Add(-time.Hour)},
	})
	n, err := svc.PurgeWebhookEvents(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	var left []store.WebhookEvent
	st.DB.Find(&left)
	if len(left) != 1 || left[0].SvixID != "msg_new" {
		t.Fatalf("left %+v", left)
	}
}
