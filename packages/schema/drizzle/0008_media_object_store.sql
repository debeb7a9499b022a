ALTER TABLE "media_objects" ALTER COLUMN "bytes" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "media_objects" ADD COLUMN "storage_key" text;--> statement-breakpoint
ALTER TABLE "media_objects" ADD COLUMN "task_id" uuid;--> statement-breakpoint
ALTER TABLE "media_objects" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "media_objects_task_idx" ON "media_objects" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "media_objects_kept_idx" ON "media_objects" USING btree ("created_at") WHERE "media_objects"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "media_objects_legacy_idx" ON "media_objects" USING btree ("id") WHERE "media_objects"."bytes" is not null;--> statement-breakpoint
-- Legacy media still needed by a task (one not yet submitted: its request still names them) get their task.
UPDATE "media_objects" AS m SET "task_id" = r."task_id"
FROM (
  SELECT t."id" AS "task_id", jsonb_path_query(t."provider_request", 'strict $.**.mediaId') #>> '{}' AS "media_id"
  FROM "tasks" AS t
  WHERE t."provider_request" IS NOT NULL
) AS r
WHERE m."id"::text = r."media_id" AND m."task_id" IS NULL;
