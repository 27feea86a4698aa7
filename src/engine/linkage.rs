//! Record linkage as a matching mode (B19): when the subject's email finds
//! no record of the type, the records sharing a blocking key with it are
//! scored ([`crate::linkage::Linkage::score`]) and the best one is linked,
//! left to review, or passed over for a new record.

use super::*;
use crate::linkage::{Band, LinkScore};
use crate::record::RecordType;

/// Thousandths of a bit, as an explanation shows them.
fn bits(millibits: i32) -> f64 {
    f64::from(millibits) / 1000.0
}

impl<S: Source> Decider<'_, S> {
    /// B19: scores the candidates sharing a blocking key with the subject
    /// (of `record_type`, not declared distinct), best first (ties to the
    /// smallest id), and links, reviews or creates by the best score.
    /// Without linkage in the policy, creates. `key`: the subject's email
    /// key, for the record created.
    pub(super) fn link_by_score(
        &mut self,
        ctx: &Ctx<'_>,
        s: &Subject,
        fields: &Fields,
        record_type: RecordType,
        key: Option<EmailKey>,
        mut t: Trace,
    ) -> Result<(), PlanError<S::Error>> {
        let policy = self.policy;
        let Some(l) = policy.linkage.as_ref() else {
            return self.create_keyed(ctx, s, fields, key, t);
        };
        let mut ids: Vec<RecordId> = Vec::new();
        for k in self.ov.block_keys(fields) {
            ids.extend(self.ov.by_block(k)?);
        }
        ids.sort_unstable();
        ids.dedup();
        let max = usize::try_from(l.max_candidates).unwrap_or(usize::MAX);
        let cut = ids.len() > max;
        // The subject's values are prepared once, not once per candidate.
        let input = l.prepare(fields);
        let mut scored = 0u32;
        let mut best: Option<(i32, RecordId, Vec<crate::linkage::FieldAgreement>)> = None;
        for id in ids.iter().take(max) {
            let Some(rec) = self.ov.get(id) else {
                continue;
            };
            if rec.record_type != record_type || l.excluded(s.id, *id) {
                continue;
            }
            scored = scored.saturating_add(1);
            let (score, agreements) = l.score_prepared(&input, &l.prepare(&rec.fields));
            // Ids come sorted: a tie keeps the smaller id.
            if best.as_ref().is_none_or(|(b, _, _)| score > *b) {
                best = Some((score, *id, agreements));
            }
        }
        let noun = record_type.noun();
        t.cite(B19);
        if cut {
            t.say_fmt(format_args!(
                "Record linkage: {} candidates share a blocking key; the first {max} by id are scored.",
                ids.len()
            ));
        }
        let Some((score, record, agreements)) = best else {
            t.cite(self.cite(D3, A3)).say_fmt(format_args!(
                "No {noun} has this email, and record linkage found none sharing a blocking key, so a new one is created."
            ));
            return self.create_keyed(ctx, s, fields, key, t);
        };
        let band = l.band(score);
        self.score = Some(Box::new(LinkScore {
            record,
            score,
            link_at: l.link_at,
            review_at: l.review_at,
            band,
            candidates: scored,
            fields: agreements,
        }));
        t.say_fmt(format_args!(
            "No {noun} has this email; record linkage scored {scored} candidate(s) sharing a blocking key, the best {noun} {record} at {:.3} bits (link at {:.3}, review at {:.3}).",
            bits(score),
            bits(l.link_at),
            bits(l.review_at)
        ));
        match band {
            Band::Link => {
                let rec = self.chosen(record)?;
                t.say_fmt(format_args!("Linked to {noun} {record}."));
                if self.ov.created_here(&record) {
                    t.cite(B5)
                        .say("It was created earlier in this booking or batch.");
                }
                // The entered address differs from the record's: the
                // record keeps its own (an empty one is filled).
                let keep = !rec.fields.is_empty_at(FieldName::EMAIL);
                if keep {
                    t.say("Its email stays.");
                }
                let ctx = Ctx {
                    protect_email: ctx.protect_email || keep,
                    ..*ctx
                };
                self.update_existing(&ctx, s, fields, rec, Entered::All, true, t)
            }
            Band::Review => {
                t.say("The score is in the review band: a person decides, and nothing is linked or created.");
                let link = self.ov.link_of(s.id, s.link);
                self.outcome(
                    ctx,
                    s,
                    Decision::Review,
                    link,
                    Some(NoRecordReason::Review),
                    t,
                );
                Ok(())
            }
            Band::Create => {
                t.cite(self.cite(D3, A3)).say_fmt(format_args!(
                    "Below the review threshold: not the same party, so a new {noun} is created."
                ));
                self.create_keyed(ctx, s, fields, key, t)
            }
        }
    }
}
