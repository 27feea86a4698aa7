//! Manual relinks: "change connected contact" (D11).

use super::*;

impl<S: Source> Decider<'_, S> {
    /// D11.
    pub(super) fn relink(&mut self, r: &Relink) -> Result<(), PlanError<S::Error>> {
        let ctx = Ctx::plain(r.id);
        let s = &r.subject;
        let rec = self.existing(s, r.to)?;
        let mut t = self.trace();
        t.cite(D11).cite(D12);
        let decision = if self.relink_to(s, rec.id) {
            t.reason(Fact::Relinked {
                record: rec.id,
                record_type: rec.record_type,
            });
            Decision::Relinked
        } else {
            t.reason(Fact::AlreadyLinked);
            Decision::Kept
        };
        self.outcome(&ctx, s, decision, Some(rec.id), None, t);
        Ok(())
    }
}
