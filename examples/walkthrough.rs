//! A walkthrough of the rule outcomes of both presets on the in-memory store.
//!
//! Run with `cargo run --example walkthrough`. Each scenario starts from a
//! small contact center, runs one or more events, and prints what happened to
//! every person and why, the way an event manager would want to read it.
//!
//! With the `sqlite` feature and a path, the same scenarios run on an SQLite
//! file instead of the in-memory store (each scenario starts from an empty
//! database; the file keeps the last one):
//! `cargo run --example walkthrough --features sqlite -- /tmp/walkthrough.db`

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use contact_sync::*;

const T: TenantId = TenantId::from_u128(1);

thread_local! {
    /// What the walkthrough writes, the SQLite file it runs on (if any), the
    /// number of the scenario running, and every rule cited so far.
    static STATE: RefCell<State> = RefCell::new(State::default());
}

#[derive(Default)]
struct State {
    out: String,
    db: Option<PathBuf>,
    /// Explanations in German (`--lang de`).
    german: bool,
    scenario: u128,
    cited: BTreeSet<RuleId>,
}

/// Appends a line to the walkthrough's text.
macro_rules! say {
    ($($arg:tt)*) => {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            let _ = writeln!(s.out, $($arg)*);
        })
    };
}

const LEGEND: &str = "How to read this: `=== RULES: what happens` starts a scenario; \
`booker #10 -> Linked, record #1` is what happened to a person (small numbers \
are the ids the scenario gave, `1a2b3c4d…` an id the engine derived for a new \
record), followed by the explanation and the rules that fired; `! …` is a \
warning; `[contact #1 v2] email=…` is a record after the scenario, with its \
version. Event ids are distinct per scenario, so records created in \
different scenarios have different ids.";

/// The whole walkthrough as text; `db`: run on that SQLite file instead of
/// the in-memory store (feature `sqlite`).
pub fn render(db: Option<PathBuf>) -> String {
    render_in(db, false)
}

/// [`render`], with the explanations in German when `german`.
pub fn render_in(db: Option<PathBuf>, german: bool) -> String {
    STATE.with(|s| {
        *s.borrow_mut() = State {
            db,
            german,
            ..State::default()
        }
    });
    say!("{LEGEND}");
    doo_scenarios();
    salesforce_scenarios();
    history_section();
    undo_section();
    what_if_section();
    say!("\n##### The rules cited above (the glossary on `RuleId`)");
    let cited = STATE.with(|s| s.borrow().cited.clone());
    for r in cited {
        say!("  {r} ({}): {}", r.source().name(), r.text());
    }
    STATE.with(|s| std::mem::take(&mut s.borrow_mut().out))
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    Fields::from_pairs(pairs.iter().copied())
}

fn rec(n: u128, t: RecordType, pairs: &[(&str, &str)]) -> Record {
    Record::new(RecordId::from_u128(n), T, t, fields(pairs))
}

fn contact(n: u128, pairs: &[(&str, &str)]) -> Record {
    rec(n, RecordType::Contact, pairs)
}

fn person(n: u128, role: Role, pairs: &[(&str, &str)]) -> Subject {
    Subject::new(SubjectId::from_u128(n), role, fields(pairs))
}

fn booking(n: u128, subjects: Vec<Subject>) -> Event {
    Event::Registered({
        let mut r = Registration::new(EventId::from_u128(n), T, subjects);
        r.campaign = Some(CampaignId("701-SUMMIT".into()));
        r
    })
}

fn edit(n: u128, subject: Subject, new: &[(&str, &str)], source: EditSource) -> Event {
    Event::Edited(Edit::new(
        EventId::from_u128(n),
        T,
        subject,
        fields(new),
        source,
    ))
}

/// Names subjects and records by their small numbers, so the output reads
/// "person 10" and "record 1" instead of UUIDs.
/// Names records and subjects as [`short`] writes ids: `#n` for the small
/// ids a scenario gave, `1a2b3c4d…` for a derived one.
struct Short;

impl describe::Names for Short {
    fn record(&self, id: RecordId, out: &mut String) {
        out.push_str(&short(&id.to_string()));
    }
    fn subject(&self, id: SubjectId, out: &mut String) {
        out.push_str(&short(&id.to_string()));
    }
}

/// The walkthrough's language.
fn formatter() -> &'static dyn describe::Formatter {
    if STATE.with(|s| s.borrow().german) {
        &describe::German
    } else {
        &describe::English
    }
}

/// The outcome's reasons as sentences, in the walkthrough's language.
fn explained(o: &Outcome) -> String {
    o.explanation_in(formatter(), &Short).into_owned()
}

/// A plan's warning, in the walkthrough's language.
fn warned(w: &Warning) -> String {
    describe::warning(formatter(), &Short, w)
}

fn short(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, id)) = find_uuid(rest) {
        out.push_str(&rest[..i]);
        match id.as_u128() {
            n if n < 1000 => out.push_str(&format!("#{n}")),
            _ => out.push_str(&format!("{}…", &rest[i..i + 8])),
        }
        rest = &rest[i + 36..];
    }
    out.push_str(rest);
    out
}

/// The first UUID in `s` and its byte offset.
fn find_uuid(s: &str) -> Option<(usize, uuid::Uuid)> {
    (0..s.len().saturating_sub(35)).find_map(|i| {
        let cand = s.get(i..i + 36)?;
        let id = uuid::Uuid::parse_str(cand).ok()?;
        cand.contains('-').then_some((i, id))
    })
}

/// What the walkthrough needs of a store beyond the two traits.
trait DemoStore: ContactStore + ApplyPlan {
    fn seed(&self, records: Vec<Record>);
    fn all(&self) -> Vec<Record>;
}

impl DemoStore for InMemoryStore {
    fn seed(&self, records: Vec<Record>) {
        self.extend(records).expect("distinct record ids");
    }
    fn all(&self) -> Vec<Record> {
        self.records(T)
    }
}

#[cfg(feature = "sqlite")]
impl DemoStore for SqliteStore {
    fn seed(&self, records: Vec<Record>) {
        for r in &records {
            self.insert(r).expect("distinct record ids");
        }
    }
    fn all(&self) -> Vec<Record> {
        self.records(T).expect("readable database")
    }
}

/// `event` with an id of its own in scenario `n`: records it creates get ids
/// no other scenario's events derive.
fn in_scenario(n: u128, event: Event) -> Event {
    let own = |id: EventId| EventId::from_u128((n << 64) | id.uuid().as_u128());
    match event {
        Event::Registered(mut r) => {
            r.id = own(r.id);
            Event::Registered(r)
        }
        Event::Edited(mut e) => {
            e.id = own(e.id);
            Event::Edited(e)
        }
        Event::Relinked(mut r) => {
            r.id = own(r.id);
            Event::Relinked(r)
        }
        Event::RecordChanged(mut c) => {
            c.id = own(c.id);
            Event::RecordChanged(c)
        }
        // Event kinds this walkthrough does not use.
        other => other,
    }
}

fn scenario(title: &str, policy: &Policy, records: Vec<Record>, events: Vec<Event>) {
    say!("\n=== {title}");
    let (n, db) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.scenario += 1;
        (s.scenario, s.db.clone())
    });
    let events: Vec<Event> = events.into_iter().map(|e| in_scenario(n, e)).collect();
    match db {
        None => run(InMemoryStore::new(), policy, records, events),
        #[cfg(feature = "sqlite")]
        Some(path) => {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
            }
            let store = SqliteStore::open(&path, Normalization::default()).expect("an SQLite file");
            run(store, policy, records, events)
        }
        #[cfg(not(feature = "sqlite"))]
        Some(_) => say!("  (a database path needs the `sqlite` feature: --features sqlite)"),
    }
}

fn run<S: DemoStore>(store: S, policy: &Policy, records: Vec<Record>, events: Vec<Event>) {
    store.seed(records);
    let engine = Engine::new(policy.clone()).expect("a valid policy");
    for event in &events {
        match engine.plan(&store, event) {
            Ok(plan) => {
                for o in &plan.outcomes {
                    STATE.with(|s| s.borrow_mut().cited.extend(o.rules.iter().copied()));
                    let rules: Vec<&str> = o.rules.iter().map(|r| r.as_str()).collect();
                    let record = o
                        .record
                        .map_or("no record".to_owned(), |r| format!("record {r}"));
                    let text = explained(o);
                    say!(
                        "  {} {} -> {:?}, {}\n      {}\n      rules: {}",
                        o.role.noun(),
                        short(&o.subject.to_string()),
                        o.decision,
                        short(&record),
                        text,
                        rules.join(" ")
                    );
                }
                for w in &plan.warnings {
                    let text = warned(w);
                    say!("  ! {text}");
                }
                if let Err(e) = store.apply(&plan) {
                    say!("  apply failed: {e}");
                }
            }
            Err(e) => say!("  rejected: {}", short(&e.to_string())),
        }
    }
    for r in store.all() {
        let f: Vec<String> = r
            .fields
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_str()))
            .collect();
        say!(
            "  [{} {} v{}] {}",
            r.record_type.noun(),
            short(&r.id.to_string()),
            r.version,
            f.join(", ")
        );
    }
}

fn doo_scenarios() {
    say!("\n##### doo contact center (Policy::doo with synchronization activated)");
    let doo = Policy::doo().with_sync(true);
    let ann = || {
        contact(
            1,
            &[
                ("email", "ann@example.org"),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("phone", ""),
            ],
        )
    };
    scenario(
        "D2/D13/D15: a returning booker is linked; sync on overwrites, empty fields are filled",
        &doo,
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", " ANN@example.org"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee-Park"),
                    ("phone", "+49 30 1"),
                ],
            )],
        )],
    );
    scenario(
        "D2/D14/D15: the same booking with sync off, the preset for another system owning the data (D20)",
        &Policy::doo_external_master(),
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee-Park"),
                    ("phone", "+49 30 1"),
                ],
            )],
        )],
    );
    scenario(
        "D3/D6/D2/B5: a new booker and attendees; two share one new email",
        &doo,
        vec![],
        vec![booking(
            100,
            vec![
                person(
                    10,
                    Role::Booker,
                    &[("email", "office@acme.example"), ("first_name", "Olga")],
                ),
                person(
                    11,
                    Role::Attendee,
                    &[("email", "Office@ACME.example"), ("first_name", "Olga")],
                ),
                person(
                    12,
                    Role::Attendee,
                    &[("email", "piet@acme.example"), ("first_name", "Piet")],
                ),
            ],
        )],
    );
    scenario(
        "D4: two contacts already share the email: never guess, create a new one",
        &doo,
        vec![
            contact(1, &[("email", "team@example.org")]),
            contact(2, &[("email", "team@example.org")]),
        ],
        vec![booking(
            100,
            vec![person(10, Role::Attendee, &[("email", "team@example.org")])],
        )],
    );
    scenario(
        "D5: an attendee without email gets no contact",
        &doo,
        vec![],
        vec![booking(
            100,
            vec![person(10, Role::Attendee, &[("first_name", "Nora")])],
        )],
    );
    scenario(
        "D7: an invitation prefilled from contact #2 links there first",
        &doo,
        vec![
            contact(1, &[("email", "inv@example.org")]),
            contact(2, &[("email", "inv@example.org"), ("first_name", "Ina")]),
        ],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[("email", "inv@example.org"), ("first_name", "Ina")],
            )
            .prefilled_from(RecordId::from_u128(2))],
        )],
    );
    let linked = || {
        person(
            10,
            Role::Attendee,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )
        .linked_to(RecordId::from_u128(1))
    };
    let two = || {
        vec![
            contact(1, &[("email", "old@example.org"), ("first_name", "Ann")]),
            contact(2, &[("email", "new@example.org"), ("first_name", "Ann")]),
        ]
    };
    scenario(
        "D8/D10/D2: email changed in self-service, event set to reassign (default)",
        &doo,
        two(),
        vec![edit(
            200,
            linked(),
            &[("email", "new@example.org")],
            EditSource::SelfService,
        )],
    );
    scenario(
        "D9/D10/D16: email changed in self-service, event set to retain, sync on",
        &doo.clone().with_email_change(EmailChange::Retain),
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("email", "ann.lee@example.org")],
            EditSource::Organizer { sync: None },
        )],
    );
    scenario(
        "D9/D10/D14/D16: email changed in self-service, event set to retain, sync off",
        &Policy::doo_external_master().with_email_change(EmailChange::Retain),
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("email", "ann.lee@example.org")],
            EditSource::Organizer { sync: None },
        )],
    );
    scenario(
        "D17/D14: the organizer edits and chooses not to sync; missing data is added anyway",
        &doo,
        vec![contact(
            1,
            &[("email", "old@example.org"), ("first_name", "Ann")],
        )],
        vec![edit(
            200,
            linked(),
            &[("first_name", "Annie"), ("phone", "+49 1")],
            EditSource::Organizer { sync: Some(false) },
        )],
    );
    scenario(
        "D11: the organizer changes the connected contact",
        &doo,
        two(),
        vec![Event::Relinked(Relink::new(
            EventId::from_u128(300),
            T,
            linked(),
            RecordId::from_u128(2),
        ))],
    );
    scenario(
        "D19/B4/D2: a colleague books with a shared email; the guard warns",
        &doo.clone().with_name_guard(NameGuard::KeepName),
        vec![ann()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[
                    ("email", "ann@example.org"),
                    ("first_name", "Ben"),
                    ("last_name", "Ortiz"),
                ],
            )],
        )],
    );
}

/// The Salesforce preset with a few order-form and generated fields mapped.
/// Where the crate goes beyond both products (B13).
fn beyond_scenarios() {
    say!("\n##### Beyond both products: ambiguity policies (B13)");
    let shared = || {
        vec![
            contact(
                1,
                &[
                    ("email", "team@example.org"),
                    ("company", "Acme"),
                    ("city", "Graz"),
                ],
            ),
            contact(
                2,
                &[
                    ("email", "team@example.org"),
                    ("company", "Acme"),
                    ("city", "Wien"),
                ],
            ),
        ]
    };
    let with = |a: Ambiguity| {
        let mut p = Policy::doo();
        p.matching.ambiguity = a;
        p
    };
    scenario(
        "D4/B13/D14: a waterfall of rules (company, then city) singles out one of two contacts (sync off: fill empty fields only)",
        &with(Ambiguity::Waterfall {
            rules: vec![
                vec![FieldName::new("company")],
                vec![FieldName::new("city")],
            ],
        }),
        shared(),
        vec![booking(
            100,
            vec![person(
                10,
                Role::Attendee,
                &[
                    ("email", "team@example.org"),
                    ("company", "Acme"),
                    ("city", "Wien"),
                ],
            )],
        )],
    );
    scenario(
        "D4/B13: review: two contacts share the email, and a person decides",
        &with(Ambiguity::Review),
        shared(),
        vec![booking(
            100,
            vec![person(10, Role::Attendee, &[("email", "team@example.org")])],
        )],
    );
    say!("\n##### Beyond both products: trust by submitter (B14)");
    let mut trusting = Policy::doo().with_sync(true);
    trusting.trust.insert(
        Submitter::AnonymousForm,
        TrustRights {
            max: ClassRules::all(FieldMerge::FillEmpty),
            owns: vec![],
        },
    );
    let anonymous = match booking(
        100,
        vec![person(
            10,
            Role::Attendee,
            &[
                ("email", "ann@example.org"),
                ("company", "Mallory Ltd"),
                ("city", "Graz"),
            ],
        )],
    ) {
        Event::Registered(r) => Event::Registered(r.submitter(Submitter::AnonymousForm)),
        other => other,
    };
    scenario(
        "B14/D2/D15: an anonymous form fills the empty city but cannot overwrite the company",
        &trusting,
        vec![contact(
            1,
            &[("email", "ann@example.org"), ("company", "Acme")],
        )],
        vec![anonymous],
    );
    say!("\n##### Beyond both products: email aliases (B15)");
    let mut aliasing = Policy::doo()
        .with_sync(true)
        .with_email_change(EmailChange::Retain);
    aliasing.aliases.keep_old = true;
    scenario(
        "D9/D10/D16/B15/D2: retain overwrites the email and keeps the old address as an alias; a later booking with it finds the contact",
        &aliasing,
        vec![contact(
            1,
            &[("email", "ann@old.example"), ("first_name", "Ann")],
        )],
        vec![
            edit(
                200,
                person(10, Role::Attendee, &[("email", "ann@old.example"), ("first_name", "Ann")])
                    .linked_to(RecordId::from_u128(1)),
                &[("email", "ann@new.example")],
                EditSource::SelfService,
            ),
            booking(
                100,
                vec![person(20, Role::Attendee, &[("email", "ann@old.example")])],
            ),
        ],
    );
}

fn salesforce(t: RecordType) -> Policy {
    let mut p = Policy::salesforce(t);
    p.fields = p
        .fields
        .map("job_title", FieldClass::FormField)
        .map("order_id", FieldClass::Generated)
        .map("tracking_link", FieldClass::Generated);
    p
}

fn salesforce_scenarios() {
    say!("\n##### Accelevents -> Salesforce (Policy::salesforce)");
    let sf = salesforce(RecordType::Contact);
    let jo = || {
        contact(
            1,
            &[
                ("email", "jo@example.org"),
                ("first_name", "Joanna"),
                ("last_name", "Park"),
                ("job_title", "Dev"),
                ("order_id", "O-1"),
                ("tracking_link", "https://t.example/1"),
            ],
        )
    };
    let buyer = || {
        person(
            9,
            Role::Booker,
            &[
                ("email", "buyer@example.org"),
                ("first_name", "Bea"),
                ("last_name", "Buyer"),
            ],
        )
    };
    scenario(
        "A6/A7/A8/A9/A10/A5: a returning holder; the buyer gets no record",
        &sf,
        vec![jo()],
        vec![booking(
            100,
            vec![
                buyer(),
                person(
                    10,
                    Role::Attendee,
                    &[
                        ("email", "jo@example.org"),
                        ("first_name", "Jo"),
                        ("job_title", ""),
                        ("order_id", "O-2"),
                        ("tracking_link", ""),
                    ],
                ),
            ],
        )],
    );
    scenario(
        "A2/A3: linear matching on Leads ignores the Contact with the same email",
        &salesforce(RecordType::Lead),
        vec![jo()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Attendee,
                &[
                    ("email", "jo@example.org"),
                    ("first_name", "Jo"),
                    ("last_name", "Park"),
                ],
            )],
        )],
    );
    let linked = || {
        person(
            10,
            Role::Attendee,
            &[
                ("email", "jo@example.org"),
                ("first_name", "Joanna"),
                ("job_title", "Dev"),
                ("order_id", "O-1"),
            ],
        )
        .linked_to(RecordId::from_u128(1))
        .with_tickets(2)
    };
    scenario(
        "A18/A14/A15/A16/A19: the update button pushes the changed order; the holder has two tickets",
        &sf,
        vec![jo()],
        vec![edit(
            200,
            linked(),
            &[
                ("email", "joanna.park@example.org"),
                ("job_title", ""),
                ("order_id", "O-9"),
            ],
            EditSource::UpdateTrigger,
        )],
    );
    scenario(
        "A18: the update button is clicked without any change",
        &sf,
        vec![jo()],
        vec![edit(200, linked(), &[], EditSource::UpdateTrigger)],
    );
    scenario(
        "A21: a new record for every ticket holder",
        &sf.clone().with_record_for_every_holder(),
        vec![jo()],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Attendee,
                &[("email", "jo@example.org"), ("first_name", "Jo")],
            )],
        )],
    );
    scenario(
        "A23: a new record when the holder's email changes",
        &sf.clone().with_email_change(EmailChange::NewRecord),
        vec![jo()],
        vec![edit(
            200,
            linked(),
            &[("email", "colleague@example.org"), ("first_name", "Cole")],
            EditSource::SelfService,
        )],
    );
    scenario(
        "A24/A7/A8: cross matching on email and last name, preferring Contacts",
        &sf.clone()
            .with_cross_matching(RecordType::Contact, &["last_name"]),
        vec![
            rec(
                1,
                RecordType::Lead,
                &[("email", "jo@example.org"), ("last_name", "Park")],
            ),
            rec(
                2,
                RecordType::Contact,
                &[("email", "jo@example.org"), ("last_name", "Kim")],
            ),
        ],
        vec![booking(
            100,
            vec![person(
                10,
                Role::Attendee,
                &[
                    ("email", "jo@example.org"),
                    ("first_name", "Jo"),
                    ("last_name", "park"),
                ],
            )],
        )],
    );
    scenario(
        "A25/A26/A27/A30/A6: holders without email (ticket id mapped, A23 on)",
        &sf.clone().with_records_without_email(),
        vec![],
        vec![booking(
            100,
            vec![
                buyer(),
                person(
                    10,
                    Role::Attendee,
                    &[("first_name", "Kid"), ("ticket_id", "T-7")],
                ),
                person(
                    11,
                    Role::Attendee,
                    &[("last_name", "Nameless"), ("ticket_id", "T-8")],
                ),
            ],
        )],
    );

    beyond_scenarios();

    say!("\n##### One registration, both presets side by side");
    let existing = || {
        vec![contact(
            1,
            &[
                ("email", "jo@example.org"),
                ("first_name", "Joanna"),
                ("last_name", "Park"),
                ("job_title", "Dev"),
            ],
        )]
    };
    let reg = || {
        booking(
            100,
            vec![
                person(
                    9,
                    Role::Booker,
                    &[
                        ("email", "jo@example.org"),
                        ("first_name", "Jo"),
                        ("last_name", "Park"),
                        ("job_title", ""),
                    ],
                ),
                person(
                    10,
                    Role::Attendee,
                    &[
                        ("email", "jo@example.org"),
                        ("first_name", "Jo"),
                        ("last_name", "Park"),
                        ("job_title", ""),
                    ],
                ),
            ],
        )
    };
    scenario(
        "D2/D13: side by side, doo (synchronization activated)",
        &Policy::doo().with_sync(true),
        existing(),
        vec![reg()],
    );
    scenario(
        "A6/A7/A8/A9: side by side, Salesforce Contacts",
        &sf,
        existing(),
        vec![reg()],
    );
}

/// B17: the field history keeps what D18 overwrites.
fn history_section() {
    say!("\n##### Beyond both products: a field history (B17)");
    say!("\n=== B17/D18/D13: sync overwrites the company twice; the history keeps every value");
    let store = InMemoryStore::new();
    store.seed(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "Acme")],
    )]);
    let engine = Engine::new(Policy::doo().with_sync(true)).expect("a valid policy");
    for (n, company) in [(1u128, "Globex"), (2, "Initech")] {
        let event = in_scenario(
            0xB17,
            booking(
                100 + n,
                vec![person(
                    10,
                    Role::Booker,
                    &[("email", "ann@example.org"), ("company", company)],
                )],
            ),
        );
        let plan = engine.plan(&store, &event).expect("a plan");
        store.apply(&plan).expect("applied");
    }
    say!(
        "  the contact now: company={} (D18: a new value replaces the old)",
        store
            .record(T, RecordId::from_u128(1))
            .ok()
            .flatten()
            .map(|r| r.fields.text("company").to_owned())
            .unwrap_or_default()
    );
    say!("  record_history(contact 1) (B17):");
    let history = store
        .record_history(T, RecordId::from_u128(1))
        .unwrap_or_default();
    for h in &history {
        say!(
            "    {}: {} -> {}",
            h.field,
            h.old.as_ref().map_or("(none)", FieldValue::as_str),
            h.new.as_str()
        );
    }
    let mut rules: Vec<&str> = history.iter().map(|h| h.rule.as_str()).collect();
    rules.dedup();
    say!("      rules: {} B17 D18", rules.join(" "));
    STATE.with(|st| {
        let mut st = st.borrow_mut();
        st.cited.extend(history.iter().map(|h| h.rule));
        st.cited.extend([RuleId::B17, RuleId::D18]);
    });
}

/// B16: a plan applied reversibly, then undone; a merge undone.
fn undo_section() {
    say!("\n##### Beyond both products: undo (B16)");
    say!("\n=== B16/D13: a booking overwrites the company; its inverse restores it");
    let store = InMemoryStore::new();
    store.seed(vec![contact(
        1,
        &[("email", "ann@example.org"), ("company", "Acme")],
    )]);
    let engine = Engine::new(Policy::doo().with_sync(true)).expect("a valid policy");
    let event = in_scenario(
        0xB16,
        booking(
            100,
            vec![person(
                10,
                Role::Booker,
                &[("email", "ann@example.org"), ("company", "Globex")],
            )],
        ),
    );
    let plan = engine.plan(&store, &event).expect("a plan");
    let company = |store: &InMemoryStore, n: u128| {
        store
            .record(T, RecordId::from_u128(n))
            .ok()
            .flatten()
            .map_or("(gone)".to_owned(), |r| r.fields.text("company").to_owned())
    };
    let inverse = contact_sync::undo::apply_reversible(&store, &plan).expect("applied");
    say!(
        "  undo::apply_reversible(plan): company={}",
        company(&store, 1)
    );
    say!(
        "  its inverse: {} effect(s), {} precondition(s) (the values and links the plan left)",
        inverse.effects.len(),
        inverse.preconditions.len()
    );
    store.apply(&inverse).expect("undone");
    say!(
        "  after the inverse: company={}, booker linked to {}",
        company(&store, 1),
        store
            .link_of(T, SubjectId::from_u128(10))
            .map_or("nothing".to_owned(), |r| r.to_string())
    );
    say!("      rules: B16 D13");

    say!("\n=== B16/B9: two duplicates merged, then the merge undone");
    let store = InMemoryStore::new();
    store.seed(vec![
        contact(1, &[("email", "bo@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "bo@example.org"), ("phone", "555")]),
    ]);
    let merge = contact_sync::plan_merge(T, &store.all(), &contact_sync::RecordMerge::default())
        .expect("a duplicate group");
    let inverse = contact_sync::undo::apply_reversible(&store, &merge).expect("merged");
    say!(
        "  merged: {} record(s); tombstone of contact 2 kept: {}",
        store.all().len(),
        store
            .tombstone(T, RecordId::from_u128(2))
            .ok()
            .flatten()
            .is_some()
    );
    store.apply(&inverse).expect("unmerged");
    say!(
        "  after the inverse: {} record(s); contact 2 phone={}",
        store.all().len(),
        store
            .record(T, RecordId::from_u128(2))
            .ok()
            .flatten()
            .map(|r| r.fields.text("phone").to_owned())
            .unwrap_or_default()
    );
    say!("      rules: B16 B9");
    STATE.with(|st| {
        st.borrow_mut()
            .cited
            .extend([RuleId::B16, RuleId::D13, RuleId::B9]);
    });
}

/// B18: one booking under both presets, and what differs.
fn what_if_section() {
    say!("\n##### Beyond both products: what-if (B18)");
    say!("\n=== B18/D4/A7: one booking under doo and under the Salesforce preset");
    let records = vec![
        contact(1, &[("email", "team@example.org"), ("company", "Acme")]),
        contact(2, &[("email", "team@example.org"), ("company", "Acme")]),
    ];
    let events = vec![in_scenario(
        0xB18,
        booking(
            100,
            vec![person(10, Role::Attendee, &[("email", "team@example.org")])],
        ),
    )];
    let sf = salesforce(RecordType::Contact);
    let diff = contact_sync::whatif::what_if(&records, &events, &Policy::doo(), &sf)
        .expect("valid policies");
    say!("  what_if(A = Policy::doo(), B = Policy::salesforce(Contact)):");
    say!("      rules: B18");
    say!("  {}", diff.to_string().lines().next().unwrap_or_default());
    for d in &diff.subjects {
        say!("  subject {}:", d.subject);
        for (side, s) in [("A", &d.a), ("B", &d.b)] {
            let decision = s.decision.map_or("failed".into(), |x| format!("{x:?}"));
            let rules: Vec<&str> = s.rules.iter().map(|r| r.as_str()).collect();
            STATE.with(|st| st.borrow_mut().cited.extend(s.rules.iter().copied()));
            say!(
                "    {side}: {decision}\n      {}\n      rules: {}",
                s.explanation,
                rules.join(" ")
            );
        }
    }
    STATE.with(|st| st.borrow_mut().cited.insert(RuleId::B18));
}

/// The rule outcomes of both presets, explained.
#[derive(clap::Parser)]
#[command(name = "walkthrough")]
struct Args {
    /// Run on this SQLite file instead of the in-memory store (feature
    /// `sqlite`).
    db: Option<std::path::PathBuf>,
    /// The language of the explanations: `en` or `de`.
    #[arg(long, default_value = "en", value_parser = ["en", "de"])]
    lang: String,
}

fn main() {
    let Args { db, lang } = clap::Parser::parse();
    print!("{}", render_in(db, lang == "de"));
}
