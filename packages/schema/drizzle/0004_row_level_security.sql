-- Row-level security: a second wall behind the tenant filters in the code. The API's read paths run
-- as the non-owner role clipwire_app with clipwire.tenant_id set for the transaction; that role sees
-- only that tenant's rows, and nothing when no tenant is set. Other roles (the owner, which runs
-- migrations and the task engine) are not restricted by these policies.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clipwire_app') THEN
    CREATE ROLE clipwire_app NOLOGIN;
  END IF;
  -- The owner switches to it per transaction (SET LOCAL ROLE), so it must be a member.
  EXECUTE format('GRANT clipwire_app TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'clipwire: cannot create or grant role clipwire_app (%); row-level security stays a policy without its role', SQLERRM;
END
$$;
--> statement-breakpoint
DO $$
BEGIN
  GRANT USAGE ON SCHEMA public TO clipwire_app;
  GRANT SELECT ON tenants, api_keys, tasks, task_events, media_objects, webhook_secrets TO clipwire_app;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'clipwire: grants to clipwire_app skipped (%)', SQLERRM;
END
$$;
--> statement-breakpoint
ALTER TABLE "tasks" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tasks" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tasks_tenant_isolation" ON "tasks"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);--> statement-breakpoint
ALTER TABLE "task_events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "task_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "task_events_tenant_isolation" ON "task_events"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);--> statement-breakpoint
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "api_keys_tenant_isolation" ON "api_keys"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);--> statement-breakpoint
ALTER TABLE "media_objects" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "media_objects" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "media_objects_tenant_isolation" ON "media_objects"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);--> statement-breakpoint
ALTER TABLE "webhook_secrets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_secrets" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "webhook_secrets_tenant_isolation" ON "webhook_secrets"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);--> statement-breakpoint
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenants_self" ON "tenants"
  USING (current_user <> 'clipwire_app' OR "id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);
