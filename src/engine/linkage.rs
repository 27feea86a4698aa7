//! Record linkage as a matching mode (B19): when the subject's email finds
//! no record of the type, the records sharing a blocking key with it are
//! scored ([`crate::linkage::Linkage::score`]) and the best one is linked,
//! left to review, or passed over for a new record.

use super::*;
use crate::linkage::{Band, LinkScore};
use crate::record::RecordType;

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
        t.cite(B19);
        if cut {
            t.reason(Fact::LinkageCut {
                candidates: ids.len(),
                max,
            });
        }
        let Some((score, record, agreements)) = best else {
            t.cite(self.cite(D3, A3))
                .reason(Fact::LinkageFoundNone { record_type });
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
        t.reason(Fact::LinkageScored {
            record_type,
            scored,
            record,
            score,
            link_at: l.link_at,
            review_at: l.review_at,
        });
        match band {
            Band::Link => {
                let rec = self.chosen(record)?;
                t.reason(Fact::LinkedTo {
                    record,
                    record_type,
                });
                if self.ov.created_here(&record) {
                    t.cite(B5).reason(Fact::CreatedInBatch);
                }
                // The entered address differs from the record's: the
                // record keeps its own (an empty one is filled).
                let keep = !rec.fields.is_empty_at(FieldName::EMAIL);
                if keep {
                    t.reason(Fact::EmailStays);
                }
                let ctx = Ctx {
                    protect_email: ctx.protect_email || keep,
                    ..*ctx
                };
                self.update_existing(&ctx, s, fields, rec, Entered::All, true, t)
            }
            Band::Review => {
                t.reason(Fact::LinkageReview);
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
                t.cite(self.cite(D3, A3))
                    .reason(Fact::LinkageBelowReview { record_type });
                self.create_keyed(ctx, s, fields, key, t)
            }
        }
    }
}
