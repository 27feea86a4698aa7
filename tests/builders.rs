//! Hosts build events and plans with constructors and setters (the types
//! are `#[non_exhaustive]`, so fields can be added without breaking them):
//! the defaults are the documented ones (D6, D22, A5, A12).

use crate::common::*;
use contact_sync::*;

#[test]
fn d6_d22_a5_a12_a_registration_built_with_setters_has_the_defaults_and_the_settings() {
    let plain = Registration::new(eid(1), T, vec![attendee(1, &[("email", "a@example.org")])]);
    assert_eq!(
        (
            plain.channel,
            &plain.campaign,
            plain.buyer_data_only,
            plain.email_change
        ),
        (Channel::Online, &None, false, None)
    );
    let set = plain
        .clone()
        .channel(Channel::Manual)
        .campaign(CampaignId("spring".into()))
        .buyer_data_only(true)
        .email_change(EmailChange::Retain);
    assert_eq!(set.channel, Channel::Manual);
    assert_eq!(set.campaign, Some(CampaignId("spring".into())));
    assert!(set.buyer_data_only);
    assert_eq!(set.email_change, Some(EmailChange::Retain));
    // A manual registration is decided as one (D6: a contact person's
    // registration still matches by email).
    let plan = engine(Policy::doo())
        .plan(&InMemoryStore::new(), &Event::Registered(set))
        .unwrap();
    assert_eq!(plan.created().count(), 1);
}

#[test]
fn d22_a12_an_edit_built_with_setters_carries_its_settings() {
    let e = Edit::new(
        eid(2),
        T,
        attendee(1, &[("email", "a@example.org")]).linked_to(rid(1)),
        fields(&[("email", "b@example.org")]),
        EditSource::SelfService,
    )
    .email_change(EmailChange::NewRecord)
    .buyer(fields(&[("last_name", "Buyer")]))
    .buyer_data_only(true)
    .campaign(CampaignId("c".into()));
    assert_eq!(e.email_change, Some(EmailChange::NewRecord));
    assert_eq!(e.buyer.as_ref().map(|b| b.text("last_name")), Some("Buyer"));
    assert!(e.buyer_data_only);
    assert_eq!(e.subject.link, Some(rid(1)));
    let relink = Relink::new(eid(3), T, attendee(1, &[]), rid(2));
    assert_eq!(relink.to, rid(2));
    let change = RecordChange::new(eid(4), T, rid(2), fields(&[("city", "Graz")]), vec![]);
    assert_eq!(change.new_fields.text("city"), "Graz");
}

#[test]
fn b6_a_plan_built_by_hand_starts_empty_and_applies() {
    let mut p = Plan::new(T);
    assert!(p.is_empty() && p.preconditions.is_empty() && p.outcomes.is_empty());
    p.effects.push(Effect::CreateRecord {
        record: contact(1, &[("email", "a@example.org")]),
    });
    let store = InMemoryStore::new();
    store.apply(&p).unwrap();
    assert_eq!(store.records(T).len(), 1);
}
