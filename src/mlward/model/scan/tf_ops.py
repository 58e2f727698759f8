"""Which TensorFlow ops a scanned graph may use: the one place that decides it.

An op in :data:`ALLOWED_OPS` only computes on tensors in memory: it reads no file, writes
no file, prints nothing, runs no Python and talks to no other process. Any op outside it
is reported (fail closed): :data:`DANGEROUS_OPS` as CRITICAL with its reason, every other
unknown op as HIGH. :data:`CHECKPOINT_OPS` read and write checkpoint files; TensorFlow's own
saver needs them, so they are allowed only where the SavedModel's ``saver_def`` alone
reaches them (decided in ``tf_savedmodel``), and are CRITICAL anywhere else.

Decisions on borderline ops:
- ``ParseExample*`` / ``ParseSingleExample`` / ``ParseSequenceExample*`` are allowed: they
  decode serialized ``tf.Example`` bytes in memory and are in most Estimator / TF Serving
  exports.
- ``DecodeProtoV2`` / ``EncodeProto`` are not: their ``descriptor_source`` attribute may name a
  file on the host, which the op then reads.
- Image and audio decoders (``DecodeJpeg``, ``DecodePng`` ...) decode bytes in memory and are
  allowed; ``Assert`` only fails the step and is allowed; ``Print`` / ``PrintV2`` are not
  (``PrintV2``'s ``output_stream`` may be ``file://...``).
- Datasets, queues, readers, summaries, collectives and ``RemoteCall`` are outside the list.
"""

from __future__ import annotations


def _ops(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Graph plumbing and v1 (dataflow) control flow.
_GRAPH = _ops("""
    Const Placeholder PlaceholderWithDefault PlaceholderV2 Identity IdentityN NoOp
    StopGradient PreventGradient Snapshot EnsureShape CheckNumerics CheckNumericsV2 Assert
    _Arg _Retval _DeviceArg _DeviceRetval Enter Exit Merge Switch NextIteration LoopCond
    ControlTrigger RefIdentity RefSwitch RefMerge RefEnter RefExit RefNextIteration
    RefSelect OptionalFromValue OptionalGetValue OptionalHasValue OptionalNone
""")
# Functional control flow and calls; the called functions are themselves checked.
_CALLS = _ops("""
    If StatelessIf While StatelessWhile Case StatelessCase For PartitionedCall
    StatefulPartitionedCall SymbolicGradient _If _While
""")
# Variables and in-memory resources (no checkpoint I/O).
_VARIABLES = _ops("""
    VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp
    VarIsInitializedOp DestroyResourceOp DisableCopyOnRead VariableShape Variable VariableV2
    Assign AssignAdd AssignSub IsVariableInitialized TemporaryVariable
    DestroyTemporaryVariable ResourceGather ResourceGatherNd ResourceScatterAdd
    ResourceScatterSub ResourceScatterMul ResourceScatterDiv ResourceScatterMin
    ResourceScatterMax ResourceScatterUpdate ResourceScatterNdUpdate ResourceScatterNdAdd
    ResourceScatterNdSub ResourceStridedSliceAssign ScatterAdd ScatterSub ScatterUpdate
    ScatterNdUpdate ScatterNdAdd ResourceApplyAdam ResourceApplyAdamWithAmsgrad
    ResourceApplyGradientDescent ResourceApplyMomentum ResourceApplyKerasMomentum
    ResourceApplyRMSProp ResourceApplyCenteredRMSProp ResourceApplyAdagrad
    ResourceApplyAdagradV2 ResourceApplyAdadelta ResourceApplyAdaMax ResourceApplyFtrl
    ResourceApplyFtrlV2 ResourceSparseApplyAdagrad ResourceSparseApplyAdagradV2
    ResourceSparseApplyMomentum ResourceSparseApplyKerasMomentum ResourceSparseApplyFtrl
    ResourceSparseApplyRMSProp ResourceSparseApplyAdadelta ResourceSparseApplyGradientDescent
""")
# Element-wise math, comparisons, casts and bit operations.
_MATH = _ops("""
    Abs Acos Acosh Add AddN AddV2 Angle Asin Asinh Atan Atan2 Atanh BesselI0e BesselI1e
    Betainc Ceil Complex ComplexAbs Conj Cos Cosh Digamma Div DivNoNan Equal Erf Erfc Erfinv
    Exp Expm1 Floor FloorDiv FloorMod Greater GreaterEqual Igamma Igammac Imag Inv Invert
    IsFinite IsInf IsNan Less LessEqual Lgamma Log Log1p LogicalAnd LogicalNot LogicalOr
    Maximum Minimum Mod Mul MulNoNan Neg NextAfter NotEqual Polygamma Pow Real RealDiv
    Reciprocal Rint Round Rsqrt Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Square
    SquaredDifference Sub Tan Tanh TruncateDiv TruncateMod Xdivy Xlogy Xlog1py Zeta
    BitwiseAnd BitwiseOr BitwiseXor LeftShift RightShift PopulationCount ClipByValue
    ApproximateEqual Cast Bitcast
""")
# Reductions, scans, segment sums and histograms.
_REDUCTIONS = _ops("""
    All Any ArgMax ArgMin Cumsum Cumprod CumulativeLogsumexp Max Mean Min Prod Sum
    EuclideanNorm SegmentSum SegmentMean SegmentMax SegmentMin SegmentProd
    UnsortedSegmentSum UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentProd
    SparseSegmentSum SparseSegmentMean SparseSegmentSqrtN SparseSegmentSumWithNumSegments
    SparseSegmentMeanWithNumSegments Bincount DenseBincount HistogramFixedWidth
""")
# Linear algebra and FFTs.
_LINALG = _ops("""
    MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum SparseMatMul Cholesky
    MatrixInverse MatrixDeterminant LogMatrixDeterminant MatrixSolve MatrixTriangularSolve
    MatrixSolveLs Qr Svd SelfAdjointEigV2 MatrixBandPart MatrixDiag MatrixDiagV2
    MatrixDiagV3 MatrixDiagPart MatrixDiagPartV2 MatrixDiagPartV3 MatrixSetDiag
    MatrixSetDiagV2 MatrixSetDiagV3 Diag DiagPart Cross FFT IFFT FFT2D IFFT2D FFT3D IFFT3D
    RFFT IRFFT RFFT2D IRFFT2D
""")
# Shape and array manipulation, gathers and scatters, quantisation.
_ARRAYS = _ops("""
    Shape ShapeN Size Rank Reshape ExpandDims Squeeze Transpose ConjugateTranspose Concat
    ConcatV2 ConcatOffset Split SplitV Slice StridedSlice StridedSliceGrad
    TensorStridedSliceUpdate Pack Unpack Tile Pad PadV2 MirrorPad MirrorPadGrad Fill
    ZerosLike OnesLike Range LinSpace Gather GatherV2 GatherNd ScatterNd TensorScatterUpdate
    TensorScatterAdd TensorScatterSub TensorScatterMax TensorScatterMin Where Select
    SelectV2 Reverse ReverseV2 ReverseSequence OneHot BroadcastTo BroadcastArgs
    BroadcastGradientArgs SpaceToBatchND BatchToSpaceND SpaceToBatch BatchToSpace
    SpaceToDepth DepthToSpace Unique UniqueV2 UniqueWithCounts UniqueWithCountsV2 ListDiff
    InvertPermutation TopK TopKV2 InTopK InTopKV2 NthElement Bucketize LowerBound UpperBound
    DynamicPartition DynamicStitch ParallelDynamicStitch Empty InplaceAdd InplaceSub
    InplaceUpdate DeepCopy UnravelIndex Roll ExtractImagePatches MatrixBandPart
    QuantizeAndDequantize QuantizeAndDequantizeV2 QuantizeAndDequantizeV3
    QuantizeAndDequantizeV4 FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars
    FakeQuantWithMinMaxVarsPerChannel Dequantize QuantizeV2
""")
# Neural-network kernels and their gradients.
_NN = _ops("""
    Relu Relu6 Elu Selu LeakyRelu Softmax LogSoftmax BiasAdd BiasAddV1 BiasAddGrad Conv2D
    Conv3D Conv Conv2DBackpropInput Conv2DBackpropFilter Conv3DBackpropInputV2
    Conv3DBackpropFilterV2 DepthwiseConv2dNative DepthwiseConv2dNativeBackpropInput
    DepthwiseConv2dNativeBackpropFilter MaxPool MaxPoolV2 MaxPool3D AvgPool AvgPool3D
    MaxPoolGrad MaxPoolGradV2 AvgPoolGrad MaxPoolWithArgmax FusedBatchNorm FusedBatchNormV2
    FusedBatchNormV3 FusedBatchNormGrad FusedBatchNormGradV2 FusedBatchNormGradV3 LRN
    L2Loss SoftmaxCrossEntropyWithLogits SparseSoftmaxCrossEntropyWithLogits Dilation2D
    ReluGrad Relu6Grad EluGrad SeluGrad LeakyReluGrad SigmoidGrad TanhGrad SoftplusGrad
    SoftsignGrad RsqrtGrad SqrtGrad ReciprocalGrad _FusedConv2D _FusedMatMul
    _FusedBatchNormEx CudnnRNN CudnnRNNV2 CudnnRNNV3 CudnnRNNParamsSize
    CudnnRNNCanonicalToParams CudnnRNNCanonicalToParamsV2 CudnnRNNParamsToCanonical
    CudnnRNNParamsToCanonicalV2 BlockLSTM BlockLSTMV2 LSTMBlockCell GRUBlockCell
    CTCGreedyDecoder CTCBeamSearchDecoder CTCLoss
""")
# Image ops on in-memory tensors or bytes.
_IMAGE = _ops("""
    ResizeBilinear ResizeNearestNeighbor ResizeBicubic ResizeArea ScaleAndTranslate
    CropAndResize NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3
    NonMaxSuppressionV4 NonMaxSuppressionV5 CombinedNonMaxSuppression AdjustContrastv2
    AdjustHue AdjustSaturation RGBToHSV HSVToRGB DecodeJpeg DecodePng DecodeImage DecodeBmp
    DecodeGif DecodeAndCropJpeg EncodeJpeg EncodePng ExtractJpegShape DecodeWav EncodeWav
""")
# Random numbers (stateful generators keep their state in variables).
_RANDOM = _ops("""
    RandomUniform RandomStandardNormal RandomUniformInt TruncatedNormal Multinomial
    RandomShuffle RandomGamma RandomPoisson RandomPoissonV2 StatelessRandomUniform
    StatelessRandomNormal StatelessRandomUniformV2 StatelessRandomNormalV2
    StatelessTruncatedNormal StatelessTruncatedNormalV2 StatelessRandomUniformInt
    StatelessRandomUniformIntV2 StatelessRandomUniformFullInt
    StatelessRandomUniformFullIntV2 StatelessRandomGetKeyCounter StatelessRandomGetAlg
    StatelessRandomGetKeyCounterAlg StatelessMultinomial RngReadAndSkip RngSkip
    StatefulUniform StatefulUniformInt StatefulUniformFullInt StatefulStandardNormalV2
    StatefulTruncatedNormal
""")
# Strings and in-memory (de)serialisation; ShardedFilename only formats a string.
_STRINGS = _ops("""
    StringJoin StringLength StringSplit StringSplitV2 StringStrip StringToNumber
    StringToHashBucket StringToHashBucketFast StringToHashBucketStrong StringLower
    StringUpper Substr RegexReplace StaticRegexReplace RegexFullMatch StaticRegexFullMatch
    AsString StringFormat ReduceJoin UnicodeDecode UnicodeDecodeWithOffsets UnicodeEncode
    UnicodeScript UnicodeTranscode EncodeBase64 DecodeBase64 StringNGrams ShardedFilename
    ShardedFilespec DecodeRaw DecodePaddedRaw DecodeCSV ParseTensor SerializeTensor
    ParseExample ParseExampleV2 ParseSingleExample ParseSequenceExample
    ParseSequenceExampleV2 ParseSingleSequenceExample DecodeJSONExample Fingerprint
""")
# Sparse and ragged tensors.
_SPARSE = _ops("""
    SparseToDense SparseTensorDenseMatMul SparseReshape SparseFillEmptyRows
    SparseFillEmptyRowsGrad SparseReduceSum SparseReduceMax SparseAdd SparseConcat
    SparseSlice SparseReorder SparseTensorDenseAdd SparseCross SparseCrossV2
    SparseCrossHashed SparseSoftmax SparseSplit SparseRetain RaggedTensorToTensor
    RaggedTensorToSparse RaggedTensorFromVariant RaggedTensorToVariant RaggedGather
    RaggedRange RaggedTensorToVariantGradient RaggedCross RaggedBincount
""")
# Tensor lists and tensor arrays (in-memory containers used by loops).
_CONTAINERS = _ops("""
    TensorListReserve TensorListFromTensor TensorListStack TensorListGetItem
    TensorListSetItem TensorListPushBack TensorListPopBack TensorListLength
    TensorListElementShape TensorListConcatV2 TensorListSplit TensorListGather
    TensorListScatterIntoExistingList TensorListScatterV2 TensorListResize EmptyTensorList
    TensorArrayV3 TensorArrayReadV3 TensorArrayWriteV3 TensorArrayGatherV3
    TensorArrayScatterV3 TensorArraySizeV3 TensorArrayConcatV3 TensorArraySplitV3
    TensorArrayGradV3 TensorArrayCloseV3
""")
# Lookup tables filled from tensors (from files: see DANGEROUS_OPS).
_TABLES = _ops("""
    HashTable HashTableV2 MutableHashTable MutableHashTableV2 MutableHashTableOfTensorsV2
    MutableDenseHashTableV2 AnonymousHashTable AnonymousMutableHashTable
    AnonymousMutableHashTableOfTensors AnonymousMutableDenseHashTable LookupTableFindV2
    LookupTableInsertV2 LookupTableRemoveV2 LookupTableImportV2 LookupTableExportV2
    LookupTableSizeV2 InitializeTable InitializeTableV2
""")

ALLOWED_OPS: frozenset[str] = (
    _GRAPH
    | _CALLS
    | _VARIABLES
    | _MATH
    | _REDUCTIONS
    | _LINALG
    | _ARRAYS
    | _NN
    | _IMAGE
    | _RANDOM
    | _STRINGS
    | _SPARSE
    | _CONTAINERS
    | _TABLES
)

CHECKPOINT_OPS: frozenset[str] = _ops("""
    Save SaveV2 SaveSlices Restore RestoreV2 RestoreSlice MergeV2Checkpoints
""")


def _reason(ops: str, why: str) -> dict[str, str]:
    return dict.fromkeys(ops.split(), why)


DANGEROUS_OPS: dict[str, str] = {
    **_reason("PyFunc PyFuncStateless EagerPyFunc", "calls a Python function"),
    **_reason("ReadFile ImmutableConst", "reads or memory-maps a file on the host"),
    **_reason("WriteFile DeleteFile", "writes or deletes a file on the host"),
    **_reason("MatchingFiles", "lists files on the host"),
    **_reason("Print PrintV2", "prints tensors to a stream or (PrintV2) a file"),
    **_reason(" ".join(sorted(CHECKPOINT_OPS)), "reads or writes checkpoint files"),
    **_reason(
        "InitializeTableFromTextFile InitializeTableFromTextFileV2 GenerateVocabRemapping LoadAndRemapMatrix",
        "reads a file on the host",
    ),
    **_reason(
        "TextLineDataset TFRecordDataset TFRecordDatasetV2 FixedLengthRecordDataset "
        "FixedLengthRecordDatasetV2 CSVDataset CSVDatasetV2 TextLineReader "
        "TextLineReaderV2 WholeFileReader WholeFileReaderV2 TFRecordReader "
        "TFRecordReaderV2 FixedLengthRecordReader FixedLengthRecordReaderV2 "
        "LMDBReader LMDBDataset LoadDataset",
        "reads files",
    ),
    **_reason(
        "SaveDataset SaveDatasetV2 DatasetToTFRecord CacheDataset CacheDatasetV2 "
        "SnapshotDataset SnapshotDatasetV2",
        "writes files",
    ),
    **_reason("SqlDataset ExperimentalSqlDataset", "opens a database"),
    **_reason(
        "DebugIdentity DebugIdentityV2 DebugIdentityV3 DebugNumericSummary "
        "DebugNumericSummaryV2 DebugNanCount",
        "sends tensors to debug URLs or files",
    ),
    **_reason("DecodeProtoV2 EncodeProto", "may read a descriptor file named in its attrs"),
    **_reason(
        "CreateSummaryFileWriter CreateSummaryDbWriter SummaryWriter WriteSummary "
        "WriteScalarSummary WriteHistogramSummary WriteImageSummary "
        "WriteAudioSummary WriteRawProtoSummary WriteGraphSummary ImportEvent "
        "FlushSummaryWriter CloseSummaryWriter",
        "writes summary files",
    ),
    **_reason("RemoteCall", "runs a function on another task"),
}
