-- An entity may carry several keys of one kind (a storefront product its variants' SKUs, each
-- with its price): the index from an entity to its keys is no longer unique. Learning a key
-- moves the entity off its other keys only when the entity carries one key of that kind
-- (weft_store::Xref::one_per_entity).
DROP INDEX xref_entity;
CREATE INDEX xref_entity ON xref (store_id, kind, system, entity_id);
