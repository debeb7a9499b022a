CREATE TABLE "tenant_limits" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"max_in_flight" integer,
	"max_tasks_per_day" integer,
	"monthly_budget" numeric,
	"monthly_budget_by_provider" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "cost_estimate" numeric;--> statement-breakpoint
ALTER TABLE "tenant_limits" ADD CONSTRAINT "tenant_limits_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
DO $$
BEGIN
  GRANT SELECT ON tenant_limits TO clipwire_app;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'clipwire: grants to clipwire_app skipped (%)', SQLERRM;
END
$$;
--> statement-breakpoint
ALTER TABLE "tenant_limits" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenant_limits" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenant_limits_tenant_isolation" ON "tenant_limits"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);
