//! The policy's own tests: the field index a policy builds.

use super::*;

proptest::proptest! {
    #[test]
    fn field_index_answers_as_the_field_map(name in "[a-z_]{0,12}|email|first_name|last_name|ticket_id|company|order_id", unmapped: bool) {
        for mut p in [Policy::doo(), Policy::doo_external_master(), Policy::salesforce(RecordType::Contact), Policy::salesforce(RecordType::Lead)] {
            p.fields.unmapped_as_form_fields = unmapped;
            let index = FieldIndex::new(&p.fields);
            proptest::prop_assert_eq!(index.class_of(&name), p.fields.class_of(&FieldName::new(&name)));
        }
    }
}
