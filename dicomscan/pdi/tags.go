package pdi

// Tags this package writes or reads.
const (
	tagMetaGroupLength       tag = 0x00020000
	tagMetaVersion           tag = 0x00020001
	tagMediaStorageSOPClass  tag = 0x00020002
	tagMediaStorageSOPInst   tag = 0x00020003
	tagTransferSyntax        tag = 0x00020010
	tagImplementationClass   tag = 0x00020012
	tagImplementationVersion tag = 0x00020013

	tagFileSetID              tag = 0x00041130
	tagFirstRootRecord        tag = 0x00041200
	tagLastRootRecord         tag = 0x00041202
	tagFileSetConsistencyFlag tag = 0x00041212
	tagDirectoryRecordSeq     tag = 0x00041220
	tagNextRecord             tag = 0x00041400
	tagRecordInUse            tag = 0x00041410
	tagLowerLevelEntity       tag = 0x00041420
	tagRecordType             tag = 0x00041430
	tagReferencedFileID       tag = 0x00041500
	tagReferencedSOPClass     tag = 0x00041510
	tagReferencedSOPInstance  tag = 0x00041511
	tagReferencedTransferSyn  tag = 0x00041512

	tagSpecificCharacterSet tag = 0x00080005
	tagSOPClassUID          tag = 0x00080016
	tagSOPInstanceUID       tag = 0x00080018
	tagStudyDate            tag = 0x00080020
	tagContentDate          tag = 0x00080023
	tagStudyTime            tag = 0x00080030
	tagContentTime          tag = 0x00080033
	tagAccessionNumber      tag = 0x00080050
	tagModality             tag = 0x00080060
	tagReferringPhysician   tag = 0x00080090
	tagCodeValue            tag = 0x00080100
	tagCodingSchemeDesig    tag = 0x00080102
	tagCodingSchemeVersion  tag = 0x00080103
	tagCodeMeaning          tag = 0x00080104
	tagStudyDescription     tag = 0x00081030
	tagSeriesDescription    tag = 0x0008103E
	tagPatientName          tag = 0x00100010
	tagPatientID            tag = 0x00100020
	tagPatientBirthDate     tag = 0x00100030
	tagPatientSex           tag = 0x00100040
	tagStudyInstanceUID     tag = 0x0020000D
	tagSeriesInstanceUID    tag = 0x0020000E
	tagStudyID              tag = 0x00200010
	tagSeriesNumber         tag = 0x00200011
	tagInstanceNumber       tag = 0x00200013
	tagDocumentTitle        tag = 0x00420010
	tagMIMETypeEncapsulated tag = 0x00420012
	tagContentLabel         tag = 0x00700080
	tagContentDescription   tag = 0x00700081
	tagPresentationDate     tag = 0x00700082
	tagPresentationTime     tag = 0x00700083
	tagContentCreatorName   tag = 0x00700084
	tagStructureSetLabel    tag = 0x30060002
	tagStructureSetDate     tag = 0x30060008
	tagStructureSetTime     tag = 0x30060009
	tagDoseSummationType    tag = 0x3004000A
	tagRTPlanLabel          tag = 0x300A0002
	tagRTPlanDate           tag = 0x300A0006
	tagRTPlanTime           tag = 0x300A0007
	tagTreatmentDate        tag = 0x30080250
	tagTreatmentTime        tag = 0x30080251
	tagConceptNameCodeSeq   tag = 0x0040A043
	tagCompletionFlag       tag = 0x0040A491
	tagVerificationFlag     tag = 0x0040A493
	tagVerificationDateTime tag = 0x0040A030
	tagVerifyingObserverSeq tag = 0x0040A073
)

// UIDs this package writes.
const (
	uidMediaStorageDirectory = "1.2.840.10008.1.3.10"
	uidExplicitVRLE          = "1.2.840.10008.1.2.1"
	uidImplicitVRLE          = "1.2.840.10008.1.2"
	uidExplicitVRBE          = "1.2.840.10008.1.2.2"
	uidDeflatedExplicitVRLE  = "1.2.840.10008.1.2.1.99"
	// implementationClassUID identifies Bildbote as the writer of the
	// meta information (a UUID-derived UID, PS3.5 B.2).
	implementationClassUID = "2.25.163312069855286155530404436390486553101"
	implementationVersion  = "BILDBOTE_PDI_1"
)
