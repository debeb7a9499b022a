CREATE TABLE "tenant_routes" (
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"route" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_routes_tenant_id_kind_pk" PRIMARY KEY("tenant_id","kind")
);
--> statement-breakpoint
ALTER TABLE "task_events" DROP CONSTRAINT "task_events_type_check";--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "route" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "attempts" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_routes" ADD CONSTRAINT "tenant_routes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_events" ADD CONSTRAINT "task_events_type_check" CHECK ("task_events"."type" in ('STATUS_CHANGED', 'OUTPUTS_ARCHIVED', 'OUTPUTS_ARCHIVE_FAILED', 'ROUTED'));--> statement-breakpoint
DO $$
BEGIN
  GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_routes TO clipwire_app;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'clipwire: grants to clipwire_app skipped (%)', SQLERRM;
END
$$;
--> statement-breakpoint
ALTER TABLE "tenant_routes" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenant_routes" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenant_routes_tenant_isolation" ON "tenant_routes"
  USING (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid)
  WITH CHECK (current_user <> 'clipwire_app' OR "tenant_id" = nullif(current_setting('clipwire.tenant_id', true), '')::uuid);
