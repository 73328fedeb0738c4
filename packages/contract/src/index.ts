// The hub's contract: openapi.yaml loaded, its operations listed, responses validated. No msw here (see ./msw.js).
export {
  specPath,
  specText,
  loadSpec,
  deref,
  derefSchema,
  resolvePointer,
  pointerOf,
  HTTP_METHODS,
  type HttpMethod,
  type OpenApiDocument,
  type OperationObject,
  type PathItemObject,
  type ParameterObject,
  type RequestBodyObject,
  type ResponseObject,
  type MediaTypeObject,
  type HeaderObject,
  type ExampleObject,
  type ReferenceObject,
  type SchemaObject,
  type SecurityRequirement,
} from './spec.js';
export {
  listOperations,
  toColonPath,
  compareTemplateSpecificity,
  createOperationMatcher,
  type OperationInfo,
  type MatchResult,
} from './operations.js';
export {
  createValidators,
  ContractViolationError,
  isJsonMediaType,
  mediaTypeOf,
  type Validators,
  type ResponseToValidate,
  type ValidationResult,
  type ResolvedResponse,
} from './validators.js';
export {
  createContractFetch,
  type ContractFetch,
  type ContractFetchOptions,
  type ContractCallOptions,
  type ContractResponse,
} from './contract-fetch.js';
export {
  exampleResponse,
  mediaTypeExample,
  synthesizeFromSchema,
  type ExampleResponse,
  type ExampleResponseOptions,
} from './examples.js';
