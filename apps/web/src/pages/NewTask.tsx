import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useQuery } from 'urql';
import { createAvatarVideoInputSchema, createVideoSoundInputSchema, type Provider } from '@clipwire/schema';
import { HttpError } from '../api';
import { type CreateResult, TaskInputQuery } from '../documents';
import { setFlash } from '../flash';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { PageTitle, shortId } from '../components/ui';
import { DigitalHumanSection } from './new-task/DigitalHumanSection';
import { ErrorSummary, FormActions, SandboxSection, TrackingSection, WhatToMakeSection } from './new-task/FormParts';
import { avatarForSchema, buildAvatarInput, buildSoundInput } from './new-task/inputs';
import { formFromTask } from './new-task/from-task';
import { addIssue, fieldFor } from './new-task/issues';
import { KieAvatarSection } from './new-task/KieAvatarSection';
import { KlingAvatarSection } from './new-task/KlingAvatarSection';
import { type Errors, FormContext, type FormState, initialState } from './new-task/state';
import { sendTask } from './new-task/upload';
import { VideoSoundSection } from './new-task/VideoSoundSection';

/** The options of each avatar-video provider. */
const AVATAR_SECTION: Record<Provider, () => ReactNode> = {
  KLING: KlingAvatarSection,
  KIE: KieAvatarSection,
  DIGITAL_HUMAN: DigitalHumanSection,
};

export function NewTaskPage({ from }: { from: string | null }) {
  const { apiKey, signOut } = useSession();
  const [s, setS] = useState<FormState>(initialState);
  // "Run again": the form filled from another task's input, once it has loaded.
  const [source] = useQuery({ query: TaskInputQuery, variables: { id: from ?? '' }, pause: !from });
  const [reattach, setReattach] = useState<string[] | null>(null);
  const sourceTask = source.data?.task;
  useEffect(() => {
    if (!sourceTask?.kind || !sourceTask.provider) return;
    const filled = formFromTask(sourceTask.kind, sourceTask.provider, sourceTask.input);
    setS(filled.state);
    setReattach(filled.reattach);
  }, [sourceTask]);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<ReactNode | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Record<string, number>>({});
  const summaryRef = useRef<HTMLDivElement>(null);

  const set = <K extends keyof FormState>(key: K, value: FormState[K], clear?: string) => {
    setS((prev) => ({ ...prev, [key]: value }));
    if (clear && errors[clear]) setErrors(({ [clear]: _gone, ...rest }) => rest);
  };

  function showErrors(next: Errors, message?: string) {
    setErrors(next);
    setFormError(message ?? null);
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const local: Errors = {};
    const request =
      s.capability === 'AVATAR_VIDEO'
        ? { avatar: true as const, input: buildAvatarInput(s, local) }
        : { avatar: false as const, input: buildSoundInput(s) };
    // The same schemas the API checks with.
    const parsed = request.avatar
      ? createAvatarVideoInputSchema.safeParse(avatarForSchema(request.input))
      : createVideoSoundInputSchema.safeParse(request.input);
    if (!parsed.success)
      for (const issue of parsed.error.issues) addIssue(local, fieldFor(issue.path, s), issue.message);
    if (Object.keys(local).length > 0) return showErrors(local);

    setBusy(true);
    setErrors({});
    setFormError(null);
    setProgress({});
    let result: CreateResult | null | undefined;
    try {
      const response = await sendTask(request, apiKey, setProgress);
      if (response.errors?.length) {
        setBusy(false);
        setProgress({});
        return showErrors({}, response.errors.map((x) => x.message).join('; '));
      }
      result = response.result;
    } catch (error) {
      setBusy(false);
      setProgress({});
      if (error instanceof HttpError && error.status === 401) return signOut(error.message);
      return showErrors({}, error instanceof Error ? error.message : String(error));
    }
    setBusy(false);
    if (!result) return showErrors({}, 'The API returned no result.');
    switch (result.__typename) {
      case 'Task':
        setFlash(`Task ${shortId(result.id)} created.`, result.id);
        navigate(href.tasks());
        return;
      case 'ValidationError': {
        setProgress({});
        const next: Errors = {};
        for (const issue of result.issues ?? [])
          addIssue(next, fieldFor(issue.path ?? [], s), issue.message ?? 'is not valid');
        return showErrors(next, Object.keys(next).length ? undefined : (result.message ?? 'The input is not valid.'));
      }
      case 'DuplicateExternalTaskId':
        setProgress({});
        return showErrors({
          externalTaskId: `another task already has this id (${result.externalTaskId ?? s.externalTaskId})`,
        });
      case 'ProviderUnavailable':
        setProgress({});
        return showErrors({}, result.message ?? `${result.providerName ?? 'The provider'} cannot take tasks now.`);
      case 'QuotaExceeded':
        setProgress({});
        return showErrors({}, result.message ?? "This would go over one of your tenant's limits.");
      case 'ProviderRejected':
        setProgress({});
        return showErrors(
          {},
          result.message ?? `${result.providerName ?? 'The provider'} refused this account's tasks.`,
        );
    }
  }

  const ProviderSection = AVATAR_SECTION[s.provider];

  return (
    <>
      <PageTitle>New task</PageTitle>
      <form className="task-form" onSubmit={submit} noValidate aria-describedby="form-intro">
        <p id="form-intro" className="hint">
          Every option the API takes. Fields are checked here with the same rules as the server; media limits (size,
          dimensions, duration) are checked by the server before anything is sent to the provider.
        </p>
        {from && reattach ? (
          <div className="callout" role="status">
            Filled from task <a href={href.task(from)}>{shortId(from)}</a>.
            {reattach.length
              ? ` Attach again: ${reattach.join(', ')} (uploaded media are not part of a task's input).`
              : ''}
          </div>
        ) : null}
        {from && source.data && !sourceTask ? (
          <div className="callout" role="status">
            There is no task {shortId(from)} in your tenant to fill the form from.
          </div>
        ) : null}
        <ErrorSummary errors={errors} formError={formError} summaryRef={summaryRef} />
        <WhatToMakeSection
          capability={s.capability}
          provider={s.provider}
          onCapability={(capability) => {
            setS((p) => ({ ...p, capability }));
            setErrors({});
          }}
          onProvider={(provider) => {
            setS((p) => ({ ...p, provider }));
            setErrors({});
          }}
        />
        <FormContext.Provider value={{ s, set, errors, progress }}>
          {s.capability === 'AVATAR_VIDEO' ? <ProviderSection /> : <VideoSoundSection />}
          <TrackingSection />
          <SandboxSection />
        </FormContext.Provider>
        <FormActions busy={busy} uploading={Object.keys(progress).length > 0} />
      </form>
    </>
  );
}
