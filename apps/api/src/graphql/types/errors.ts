import { DuplicateExternalTaskIdError, ValidationError, type FieldIssue } from '../../errors.js';
import { builder } from '../builder.js';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with the input: the path of the field and what is wrong with it.',
  fields: (t) => ({
    path: t.exposeStringList('path'),
    message: t.exposeString('message'),
  }),
});

export const ValidationErrorType = builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

export const DuplicateExternalTaskIdType = builder.objectType(DuplicateExternalTaskIdError, {
  name: 'DuplicateExternalTaskId',
  interfaces: [ErrorInterface],
  fields: (t) => ({ externalTaskId: t.exposeString('externalTaskId') }),
});
