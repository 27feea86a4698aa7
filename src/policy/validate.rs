//! Which policies can work (B11): the combinations a policy is refused
//! for, checked once when an engine is built.

use super::*;

impl Policy {
    /// Rejects combinations that cannot work (B11).
    ///
    /// # Errors
    /// A [`PolicyError`] naming the first combination that cannot work.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let email_fields: Vec<&FieldName> = self
            .fields
            .classes
            .iter()
            .filter(|(_, c)| **c == FieldClass::Email)
            .map(|(n, _)| n)
            .collect();
        match self.fields.classes.get(&FieldName::new(FieldName::EMAIL)) {
            Some(FieldClass::Email) if email_fields.len() == 1 => {}
            _ => return Err(PolicyError::EmailField),
        }
        if self
            .fields
            .classes
            .contains_key(&FieldName::new(FieldName::EMAIL_ALIASES))
        {
            return Err(PolicyError::AliasesMapped);
        }
        if self.aliases.max == 0 {
            return Err(PolicyError::ZeroLimit);
        }
        if let Some(l) = &self.linkage {
            l.validate()?;
        }
        if self.roles.booker == RoleRule::NoRecord && self.roles.attendee == RoleRule::NoRecord {
            return Err(PolicyError::NoRoleGetsRecords);
        }
        if self.no_email.create {
            if self.email_change != EmailChange::NewRecord {
                return Err(PolicyError::NoEmailNeedsNewRecordOnEmailChange);
            }
            if self
                .fields
                .class_of(&FieldName::new(FieldName::TICKET_ID))
                .is_none()
            {
                return Err(PolicyError::NoEmailNeedsTicketId);
            }
            if !self.campaign_member_ticket {
                return Err(PolicyError::NoEmailNeedsMemberTicket);
            }
        }
        if self.limits.max_field_len == 0
            || self.limits.max_fields == 0
            || self.limits.max_subjects == 0
            || self.limits.max_field_name_len == 0
        {
            return Err(PolicyError::ZeroLimit);
        }
        let ambiguity_fields: Vec<&FieldName> = match &self.matching.ambiguity {
            Ambiguity::MostRecentlyModified { field } => vec![field],
            Ambiguity::Waterfall { rules } => {
                if rules.is_empty() || rules.iter().any(Vec::is_empty) {
                    return Err(PolicyError::EmptyWaterfall);
                }
                rules.iter().flatten().collect()
            }
            Ambiguity::BestScore if self.matching.weighted.is_none() => {
                return Err(PolicyError::BestScoreWithoutWeights);
            }
            _ => Vec::new(),
        };
        for f in &ambiguity_fields {
            if self.fields.class_of(f).is_none() {
                return Err(PolicyError::UnmappedCriterion(f.to_string()));
            }
        }
        let names = self
            .fields
            .classes
            .keys()
            .chain(ambiguity_fields.iter().copied())
            .chain(self.trust.values().flat_map(|t| t.owns.iter()))
            .chain(&self.matching.criteria)
            .chain(
                self.matching
                    .weighted
                    .iter()
                    .flat_map(|w| w.criteria.iter().map(|c| &c.field)),
            )
            .chain(self.linkage.iter().flat_map(|l| {
                l.comparisons.iter().map(|c| &c.field).chain(
                    l.blocking
                        .rules
                        .iter()
                        .flat_map(|r| r.parts.iter().map(|p| &p.field)),
                )
            }));
        for n in names {
            n.check(self.limits.max_field_name_len)
                .map_err(PolicyError::InvalidFieldName)?;
        }
        for c in &self.matching.criteria {
            if c.as_str() == FieldName::EMAIL {
                return Err(PolicyError::EmailAsCriterion);
            }
            if self.fields.class_of(c).is_none() {
                return Err(PolicyError::UnmappedCriterion(c.to_string()));
            }
        }
        if let Some(w) = &self.matching.weighted {
            let total: u64 = w.criteria.iter().map(|c| u64::from(c.weight)).sum();
            if w.threshold == 0 || u64::from(w.threshold) > total {
                return Err(PolicyError::UnreachableThreshold {
                    threshold: w.threshold,
                    total,
                });
            }
            for c in &w.criteria {
                if c.field.as_str() == FieldName::EMAIL {
                    return Err(PolicyError::EmailAsCriterion);
                }
                if self.fields.class_of(&c.field).is_none() {
                    return Err(PolicyError::UnmappedCriterion(c.field.to_string()));
                }
                if let Comparator::JaroWinkler { min_per_mille } = c.compare {
                    if min_per_mille > 1000 {
                        return Err(PolicyError::SimilarityOutOfRange(min_per_mille));
                    }
                }
            }
        }
        Ok(())
    }
}
