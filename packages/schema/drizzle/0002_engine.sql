CREATE TABLE "jobs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "jobs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"queue" text NOT NULL,
	"dedupe_key" text,
	"group_key" text,
	"payload" jsonb NOT NULL,
	"run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_secrets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "tasks" ALTER COLUMN "callback_token_hash" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "webhook_url" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "submit_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "submit_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "next_poll_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "poll_delay_ms" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "webhook_url" text;--> statement-breakpoint
ALTER TABLE "webhook_secrets" ADD CONSTRAINT "webhook_secrets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_due_idx" ON "jobs" USING btree ("queue","run_at");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_dedupe_idx" ON "jobs" USING btree ("dedupe_key");--> statement-breakpoint
CREATE INDEX "jobs_group_idx" ON "jobs" USING btree ("group_key","id") WHERE "jobs"."group_key" is not null;--> statement-breakpoint
CREATE INDEX "webhook_secrets_tenant_idx" ON "webhook_secrets" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "tasks_poll_idx" ON "tasks" USING btree ("next_poll_at") WHERE "tasks"."status" in ('SUBMITTED', 'PROCESSING');--> statement-breakpoint
CREATE INDEX "tasks_provider_inflight_idx" ON "tasks" USING btree ("provider","submit_started_at") WHERE "tasks"."status" in ('PENDING', 'SUBMITTED', 'PROCESSING');