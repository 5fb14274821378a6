-- 002: parameterised operations and equivalence checks of resulting state.
ALTER TABLE run_cells ADD COLUMN base_operation VARCHAR;
ALTER TABLE run_cells ADD COLUMN params JSON;
ALTER TABLE run_cells ADD COLUMN valid BOOLEAN;
ALTER TABLE run_cells ADD COLUMN equivalence VARCHAR;
ALTER TABLE run_cells ADD COLUMN similarity DOUBLE;
